"""Reading S3's XML response documents and response headers.

Documents are in the ``http://s3.amazonaws.com/doc/2006-03-01/`` namespace on AWS, R2 and
moto, but error documents are not, and some compatible services omit the namespace
altogether, so elements are matched by local name.

The stdlib parser refuses entity-expansion bombs (Python 3.11+ with expat >= 2.4.1), but not
depth: a tree of a few thousand nested elements is built fine and then exhausts the
WebAssembly stack on Pyodide when it is freed, killing the Worker. So a document's depth is
measured first, by expat alone with no tree, and anything deeper than :data:`MAX_DEPTH` is a
:class:`MalformedResponse` before any element exists.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from urllib.parse import unquote_plus

from flaresuite.errors import RuntimeFailure
from flaresuite.http import HttpResponse
from flaresuite.s3.model import CommonPrefix, ObjectHead, S3Object

METADATA_PREFIX = "x-amz-meta-"
MAX_DEPTH = 16
"""The deepest element nesting accepted. S3's documents nest at most 4 levels
(``ListBucketResult/Contents/Owner/ID``)."""


class MalformedResponse(RuntimeFailure, ValueError):
    """The service's answer is not the document the S3 API Reference describes."""


def parse_document(body: bytes) -> ElementTree.Element:
    try:
        _check_depth(body)
        return ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        snippet = body[:200].decode("utf-8", "replace")
        raise MalformedResponse(f"response is not XML ({error}): {snippet!r}") from None


class _DepthLimit:
    """An expat target that builds nothing and stops the parse past :data:`MAX_DEPTH`."""

    def __init__(self) -> None:
        self.depth = 0

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise MalformedResponse(f"response nests elements deeper than {MAX_DEPTH} levels")

    def end(self, tag: str) -> None:
        self.depth -= 1

    def close(self) -> None:
        return None


def _check_depth(body: bytes) -> None:
    parser = ElementTree.XMLParser(target=_DepthLimit())
    parser.feed(body)
    parser.close()


def local_name(element: ElementTree.Element) -> str:
    return element.tag.rpartition("}")[2]


def children(element: ElementTree.Element, name: str) -> Iterator[ElementTree.Element]:
    return (child for child in element if local_name(child) == name)


def child_text(element: ElementTree.Element, name: str) -> str | None:
    for child in children(element, name):
        return child.text or ""
    return None


def required_text(element: ElementTree.Element, name: str) -> str:
    text = child_text(element, name)
    if text is None:
        raise MalformedResponse(f"<{local_name(element)}> has no <{name}>")
    return text


def unquote_etag(etag: str) -> str:
    """Entity tags arrive quoted (``"d41d8..."``, RFC 9110 section 8.8.3); callers compare
    and store them bare, whether they came from a listing or a HEAD."""
    return etag.strip().strip('"')


@dataclass(frozen=True, slots=True)
class ErrorDocument:
    code: str
    message: str
    request_id: str | None


def parse_error(response: HttpResponse) -> ErrorDocument:
    """S3's ``<Error><Code/><Message/><RequestId/></Error>``, falling back to the HTTP
    status when there is no document (HEAD responses never have a body)."""
    request_id = response.header("x-amz-request-id")
    try:
        root = parse_document(response.body) if response.body.strip() else None
    except MalformedResponse:
        root = None
    if root is None or local_name(root) != "Error":
        try:
            reason = HTTPStatus(response.status).phrase.replace(" ", "")
        except ValueError:
            reason = "UnknownError"
        text = response.body[:200].decode("utf-8", "replace").strip()
        return ErrorDocument(reason, text, request_id)
    return ErrorDocument(
        code=child_text(root, "Code") or "UnknownError",
        message=child_text(root, "Message") or "",
        request_id=child_text(root, "RequestId") or request_id,
    )


def parse_timestamp(text: str) -> datetime:
    """ListObjectsV2's ``LastModified`` (ISO 8601, e.g. ``2024-05-01T12:00:00.000Z``)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise MalformedResponse(f"LastModified {text!r} is not an ISO 8601 timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class ListPage:
    objects: list[S3Object]
    next_token: str | None
    """``NextContinuationToken``: set exactly when the listing is truncated."""
    prefixes: list[CommonPrefix]
    """``CommonPrefixes`` of a listing with a delimiter; empty without one."""


def parse_list_page(body: bytes) -> ListPage:
    """One ``ListBucketResult`` of ListObjectsV2.

    With ``EncodingType`` ``url`` the keys are URL-encoded (S3 encodes a space as ``+`` and a
    literal ``+`` as ``%2B``), which lets keys containing characters XML 1.0 cannot carry
    round-trip; they are decoded here.
    """
    root = parse_document(body)
    if local_name(root) != "ListBucketResult":
        raise MalformedResponse(f"expected <ListBucketResult>, got <{local_name(root)}>")
    url_encoded = (child_text(root, "EncodingType") or "").lower() == "url"
    objects = []
    for entry in children(root, "Contents"):
        key = required_text(entry, "Key")
        try:
            size = int(required_text(entry, "Size"))
        except ValueError:
            raise MalformedResponse(f"<Size> of {key!r} is not an integer") from None
        objects.append(
            S3Object(
                key=unquote_plus(key) if url_encoded else key,
                size=size,
                etag=unquote_etag(child_text(entry, "ETag") or ""),
                last_modified=parse_timestamp(required_text(entry, "LastModified")),
            )
        )
    prefixes = []
    for entry in children(root, "CommonPrefixes"):
        prefix = required_text(entry, "Prefix")
        prefixes.append(CommonPrefix(unquote_plus(prefix) if url_encoded else prefix))
    truncated = (child_text(root, "IsTruncated") or "false").strip().lower() == "true"
    token = child_text(root, "NextContinuationToken")
    if truncated and not token:
        raise MalformedResponse("listing is truncated but has no NextContinuationToken")
    return ListPage(objects, token if truncated else None, prefixes)


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP date (RFC 9110 section 5.6.7) as an aware UTC datetime, ``None`` if absent or
    unreadable."""
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_head(response: HttpResponse) -> ObjectHead:
    """HeadObject's answer, which is all headers."""
    length = response.header("content-length")
    try:
        content_length = int(length) if length is not None else 0
    except ValueError:
        raise MalformedResponse(f"Content-Length {length!r} is not an integer") from None
    return ObjectHead(
        content_length=content_length,
        etag=unquote_etag(response.header("etag") or ""),
        last_modified=parse_http_date(response.header("last-modified")),
        checksum_sha256=response.header("x-amz-checksum-sha256"),
        metadata={
            name[len(METADATA_PREFIX) :]: value
            for name, value in response.headers.items()
            if name.startswith(METADATA_PREFIX)
        },
        content_type=response.header("content-type"),
    )


def parse_upload_id(body: bytes) -> str:
    """``InitiateMultipartUploadResult``'s ``UploadId``."""
    root = parse_document(body)
    upload_id = child_text(root, "UploadId")
    if local_name(root) != "InitiateMultipartUploadResult" or not upload_id:
        raise MalformedResponse("CreateMultipartUpload answer has no <UploadId>")
    return upload_id
