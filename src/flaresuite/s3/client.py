"""An async S3 client over an injected :data:`~flaresuite.http.HttpFetch`.

It speaks the S3 REST API (https://docs.aws.amazon.com/AmazonS3/latest/API/) directly,
signing with :mod:`flaresuite.s3.sigv4`, so the same code runs in a Worker (over the
runtime's ``fetch``) and on CPython (over :class:`flaresuite_host.transport.HttpxFetch`)
without boto3, which could not run in a Worker. Only what the suite needs is here: listing,
HEAD, GET, PUT and multipart upload.

Every request is retried on 5xx, 429, S3's retryable error codes and transport failures, under
the suite's one policy (:mod:`flaresuite.retry`), and re-signed on each attempt, so a long
backoff never sends a stale ``x-amz-date``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from flaresuite.http import HttpFetch, HttpRequest, HttpResponse, TransportError
from flaresuite.ports import Clock, SystemClock
from flaresuite.retry import Again, Backoff, Retrier, RetryPolicy, Sleep
from flaresuite.s3 import addressing, responses, sigv4
from flaresuite.s3.credentials import Credentials, CredentialSource
from flaresuite.s3.errors import S3Error
from flaresuite.s3.model import CommonPrefix, ObjectHead, S3Object

MIN_PART_SIZE = 5 * 1024 * 1024
"""S3's smallest part (all but the last) of a multipart upload; R2 and moto agree."""
MAX_PARTS = 10_000
DEFAULT_PART_SIZE = 16 * 1024 * 1024
MAX_LIST_PAGE = 1000
"""ListObjectsV2 never returns more keys than this per page."""
BACKOFF = Backoff(base=0.25, cap=20.0)
"""The first retry waits up to 0.25 s; no wait is longer than 20 s."""
_RETRYABLE_CODES = frozenset({"RequestTimeout", "SlowDown", "InternalError", "ServiceUnavailable"})
"""S3 asks clients to retry 5xx answers (``InternalError``, ``ServiceUnavailable``) and to back
off on throttling (``503 SlowDown``, ``429``), see "Error responses" in the S3 API Reference.
``400 RequestTimeout`` means the service stopped waiting for the request body, which a fresh
attempt can fix. Any other 4xx (bad signature, no permission, no such bucket) would fail the
same way again."""

_METADATA_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")

_Parsed = TypeVar("_Parsed")

Progress = Callable[[int, int], None]
"""``on_progress(bytes_sent, bytes_total)``, called after each part."""


class S3Client:
    """Requests to one S3-compatible service, as one identity, in one region.

    ``endpoint`` is ``None`` for AWS itself (virtual-hosted URLs) or the base URL of a
    compatible service such as R2 (``https://<account>.r2.cloudflarestorage.com``, region
    ``auto``) or moto, addressed path style. ``credentials`` ``None`` sends unsigned
    requests, for public buckets; a :class:`~flaresuite.s3.credentials.CredentialSource`
    (an assumed role) is asked before every attempt. ``clock`` dates signatures; ``sleep``
    waits between attempts (tests inject one that returns at once).
    """

    def __init__(
        self,
        fetch: HttpFetch,
        *,
        region: str,
        endpoint: str | None = None,
        credentials: Credentials | CredentialSource | None,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        max_attempts: int = 4,
        timeout: float | None = None,
    ) -> None:
        if not region:
            raise ValueError("S3 region must not be empty (R2 uses 'auto')")
        self._retrier = Retrier(
            RetryPolicy(attempts=max_attempts, backoff=BACKOFF), sleep=sleep, clock=clock
        )
        self._fetch = fetch
        self.region = region
        self.endpoint = None if endpoint is None else addressing.check_endpoint(endpoint)
        self._credentials = credentials
        self._clock = clock or SystemClock()
        self._timeout = timeout

    def __repr__(self) -> str:
        identity: object = "anonymous"
        if isinstance(self._credentials, Credentials):
            identity = self._credentials.access_key_id
        elif self._credentials is not None:
            identity = self._credentials
        where = self.endpoint or "AWS"
        return f"S3Client({where}, region={self.region!r}, as {identity!r})"

    async def list_objects(
        self, bucket: str, prefix: str = "", *, page_size: int = MAX_LIST_PAGE
    ) -> AsyncIterator[S3Object]:
        """Every object whose key starts with ``prefix``, in key order (ListObjectsV2,
        following continuation tokens until the listing ends).

        Raises :class:`S3Error` (or :class:`~flaresuite.http.TransportError`) if any page
        cannot be fetched, so a caller never mistakes a partial listing for a whole one.
        """
        async for entry in self._list(bucket, prefix, page_size=page_size, delimiter=None):
            if isinstance(entry, S3Object):
                yield entry

    async def list_directory(
        self, bucket: str, prefix: str, *, page_size: int = MAX_LIST_PAGE
    ) -> AsyncIterator[S3Object | CommonPrefix]:
        """One level of the key tree below ``prefix`` (which should end in ``/``): the
        objects directly in it, and a :class:`CommonPrefix` for each sub-directory
        (ListObjectsV2 with ``delimiter=/``). Nothing below a sub-directory is listed, so
        a caller pays only for the levels it descends into. Errors as for
        :meth:`list_objects`.
        """
        async for entry in self._list(bucket, prefix, page_size=page_size, delimiter="/"):
            yield entry

    async def _list(
        self, bucket: str, prefix: str, *, page_size: int, delimiter: str | None
    ) -> AsyncIterator[S3Object | CommonPrefix]:
        if not 1 <= page_size <= MAX_LIST_PAGE:
            raise ValueError(f"page_size must be between 1 and {MAX_LIST_PAGE}, got {page_size}")
        token: str | None = None
        seen_tokens: set[str] = set()
        while True:
            query = [
                ("list-type", "2"),
                ("prefix", prefix),
                ("encoding-type", "url"),
                ("max-keys", str(page_size)),
            ]
            if delimiter is not None:
                query.append(("delimiter", delimiter))
            if token is not None:
                query.append(("continuation-token", token))
            response = await self._call("ListObjectsV2", "GET", bucket, query=query)
            page = self._read(
                response, lambda r: responses.parse_list_page(r.body), "ListObjectsV2", bucket
            )
            for obj in page.objects:
                yield obj
            for common in page.prefixes:
                yield common
            if page.next_token is None:
                return
            if page.next_token in seen_tokens:
                raise S3Error(
                    response.status,
                    "MalformedResponse",
                    "the service returned a continuation token it had already returned",
                    response.header("x-amz-request-id"),
                    operation="ListObjectsV2",
                    bucket=bucket,
                )
            seen_tokens.add(page.next_token)
            token = page.next_token

    async def head_object(
        self, bucket: str, key: str, *, checksum_mode: bool = True
    ) -> ObjectHead | None:
        """The object's size, ETag, dates, checksum and user metadata; ``None`` if there is
        no such object.

        ``checksum_mode`` sends ``x-amz-checksum-mode: ENABLED``, without which S3 (and
        moto) leave out ``x-amz-checksum-sha256``. A HEAD response has no body, so a 404
        cannot say whether the key or the whole bucket is missing; both give ``None``.
        """
        headers = {"x-amz-checksum-mode": "ENABLED"} if checksum_mode else {}
        try:
            response = await self._call("HeadObject", "HEAD", bucket, key, headers=headers)
        except S3Error as error:
            if error.status == 404:
                return None
            raise
        return self._read(response, responses.parse_head, "HeadObject", bucket, key)

    async def get_object(self, bucket: str, key: str) -> bytes | None:
        """The object's bytes, or ``None`` for ``NoSuchKey`` (a missing bucket raises)."""
        try:
            response = await self._call("GetObject", "GET", bucket, key)
        except S3Error as error:
            if error.status == 404 and error.code == "NoSuchKey":
                return None
            raise
        return response.body

    async def put_object(
        self,
        bucket: str,
        key: str,
        body: bytes,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        checksum_sha256: bool = True,
    ) -> str:
        """Store ``body`` at ``key`` and return its ETag.

        ``Content-MD5`` is always sent, and with ``checksum_sha256`` also
        ``x-amz-checksum-sha256``, which S3 verifies and keeps, so a later HEAD returns the
        object's own sha256.
        """
        digest = hashlib.sha256(body).digest()
        headers = {**_content_headers(content_type, metadata), **_md5_header(body)}
        if checksum_sha256:
            headers["x-amz-checksum-sha256"] = base64.b64encode(digest).decode("ascii")
            # What the AWS SDKs send alongside; S3 infers it, but moto and some
            # S3-compatible services store the checksum only when it is named.
            headers["x-amz-sdk-checksum-algorithm"] = "SHA256"
        response = await self._call(
            "PutObject", "PUT", bucket, key, headers=headers, body=body, body_sha256=digest
        )
        return responses.unquote_etag(response.header("etag") or "")

    async def create_multipart_upload(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        """Start a multipart upload and return its upload id."""
        response = await self._call(
            "CreateMultipartUpload",
            "POST",
            bucket,
            key,
            query=[("uploads", "")],
            headers=_content_headers(content_type, metadata),
        )
        return self._read(
            response,
            lambda r: responses.parse_upload_id(r.body),
            "CreateMultipartUpload",
            bucket,
            key,
        )

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, body: bytes
    ) -> str:
        """Upload part ``part_number`` (1 to 10,000) and return its ETag, which
        :meth:`complete_multipart_upload` needs."""
        if not 1 <= part_number <= MAX_PARTS:
            raise ValueError(f"part_number must be between 1 and {MAX_PARTS}, got {part_number}")
        response = await self._call(
            "UploadPart",
            "PUT",
            bucket,
            key,
            query=[("partNumber", str(part_number)), ("uploadId", upload_id)],
            headers=_md5_header(body),
            body=body,
        )
        etag = responses.unquote_etag(response.header("etag") or "")
        if not etag:
            raise S3Error(
                response.status,
                "MalformedResponse",
                "UploadPart answer has no ETag header",
                response.header("x-amz-request-id"),
                operation="UploadPart",
                bucket=bucket,
                key=key,
            )
        return etag

    async def complete_multipart_upload(
        self, bucket: str, key: str, upload_id: str, etags: Sequence[str]
    ) -> str:
        """Assemble the parts, ``etags[0]`` being part 1, and return the object's ETag."""
        document = ElementTree.Element(
            "CompleteMultipartUpload", xmlns="http://s3.amazonaws.com/doc/2006-03-01/"
        )
        for number, etag in enumerate(etags, start=1):
            part = ElementTree.SubElement(document, "Part")
            ElementTree.SubElement(part, "PartNumber").text = str(number)
            ElementTree.SubElement(part, "ETag").text = f'"{responses.unquote_etag(etag)}"'
        body = ElementTree.tostring(document, encoding="utf-8", xml_declaration=True)
        response = await self._call(
            "CompleteMultipartUpload",
            "POST",
            bucket,
            key,
            query=[("uploadId", upload_id)],
            headers={"content-type": "application/xml"},
            body=body,
            errors_in_body=True,
        )
        return self._read(
            response,
            lambda r: responses.unquote_etag(
                responses.required_text(responses.parse_document(r.body), "ETag")
            ),
            "CompleteMultipartUpload",
            bucket,
            key,
        )

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        """Discard an unfinished upload and the parts stored for it."""
        await self._call(
            "AbortMultipartUpload", "DELETE", bucket, key, query=[("uploadId", upload_id)]
        )

    async def upload(
        self,
        bucket: str,
        key: str,
        body: bytes,
        *,
        part_size: int = DEFAULT_PART_SIZE,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        on_progress: Progress | None = None,
    ) -> str:
        """Store ``body`` at ``key``, in one PutObject up to ``part_size`` bytes and as a
        multipart upload of ``part_size`` parts above it; return the object's ETag.

        A multipart upload that fails (or is cancelled) is aborted, so no invisible parts
        are left accruing storage; the original error is raised.
        """
        total = len(body)
        if total <= part_size:
            etag = await self.put_object(
                bucket, key, body, content_type=content_type, metadata=metadata
            )
            if on_progress is not None:
                on_progress(total, total)
            return etag
        if part_size < MIN_PART_SIZE:
            raise ValueError(
                f"part_size must be at least {MIN_PART_SIZE} bytes (5 MiB), got {part_size}"
            )
        if -(-total // part_size) > MAX_PARTS:
            raise ValueError(
                f"{total} bytes in parts of {part_size} would exceed {MAX_PARTS} parts"
            )
        upload_id = await self.create_multipart_upload(
            bucket, key, content_type=content_type, metadata=metadata
        )
        try:
            etags: list[str] = []
            view = memoryview(body)
            for offset in range(0, total, part_size):
                part = bytes(view[offset : offset + part_size])
                etags.append(await self.upload_part(bucket, key, upload_id, len(etags) + 1, part))
                if on_progress is not None:
                    on_progress(offset + len(part), total)
            return await self.complete_multipart_upload(bucket, key, upload_id, etags)
        except BaseException as error:
            try:
                await self.abort_multipart_upload(bucket, key, upload_id)
            except Exception as abort_error:
                error.add_note(f"aborting multipart upload {upload_id} also failed: {abort_error}")
            raise

    def _read(
        self,
        response: HttpResponse,
        parse: Callable[[HttpResponse], _Parsed],
        operation: str,
        bucket: str,
        key: str | None = None,
    ) -> _Parsed:
        """``parse(response)``, reporting an unreadable answer as an :class:`S3Error`."""
        try:
            return parse(response)
        except responses.MalformedResponse as error:
            raise S3Error(
                response.status,
                "MalformedResponse",
                str(error),
                response.header("x-amz-request-id"),
                operation=operation,
                bucket=bucket,
                key=key,
            ) from None

    async def _call(
        self,
        operation: str,
        method: str,
        bucket: str,
        key: str | None = None,
        *,
        query: list[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        body_sha256: bytes | None = None,
        errors_in_body: bool = False,
    ) -> HttpResponse:
        """Send one operation, retrying what is worth retrying, and return its successful
        response; any other outcome raises :class:`S3Error` (a 404 included: callers for whom
        "missing" is an answer catch it). ``errors_in_body`` is for CompleteMultipartUpload,
        which can answer ``200 OK`` and then an ``<Error>`` document (S3 API Reference,
        CompleteMultipartUpload).
        """
        url = addressing.request_url(
            bucket, key, region=self.region, endpoint=self.endpoint, query=query or ()
        )
        payload_sha256 = None
        if self._credentials is not None:
            payload_sha256 = (body_sha256 or hashlib.sha256(body).digest()).hex()
        attempts = 0

        async def attempt() -> HttpResponse:
            nonlocal attempts
            attempts += 1
            # Signed per attempt: the signature dates the request, and a retry may come late
            # (with renewed credentials, if the old ones were about to expire).
            signed = await self._headers(method, url, headers or {}, payload_sha256)
            return await self._fetch(HttpRequest(method, url, signed, body, self._timeout))

        def succeeded(response: HttpResponse) -> bool:
            return response.ok and not (errors_in_body and _is_error_document(response.body))

        def classify(response: HttpResponse) -> Again | None:
            if succeeded(response):
                return None
            error = responses.parse_error(response)
            return Again() if _is_retryable(response.status, error.code) else None

        try:
            outcome = await self._retrier.run(attempt, classify)
        except TransportError as error:
            tries = f" after {attempts} attempts" if attempts > 1 else ""
            raise TransportError(
                f"S3 {operation} on {_target(bucket, key)} failed{tries}: {error}"
            ) from error
        response = outcome.value
        if succeeded(response):
            return response
        error_document = responses.parse_error(response)
        raise S3Error(
            response.status,
            error_document.code,
            error_document.message,
            error_document.request_id,
            operation=operation,
            bucket=bucket,
            key=key,
            attempts=outcome.attempts,
        )

    async def _headers(
        self, method: str, url: str, headers: Mapping[str, str], payload_sha256: str | None
    ) -> dict[str, str]:
        if self._credentials is None or payload_sha256 is None:
            return dict(headers)
        credentials = self._credentials
        if not isinstance(credentials, Credentials):
            credentials = await credentials.credentials()
        return sigv4.sign(
            method=method,
            url=url,
            headers=headers,
            payload_sha256=payload_sha256,
            credentials=credentials,
            region=self.region,
            now=datetime.fromtimestamp(self._clock.now(), UTC),
        )


def _is_retryable(status: int, code: str) -> bool:
    return status >= 500 or status == 429 or code in _RETRYABLE_CODES


def _target(bucket: str, key: str | None) -> str:
    return f"bucket {bucket!r}" if key is None else f"key {key!r} in bucket {bucket!r}"


def _is_error_document(body: bytes) -> bool:
    try:
        return responses.local_name(responses.parse_document(body)) == "Error"
    except responses.MalformedResponse:
        return False


def _md5_header(body: bytes) -> dict[str, str]:
    """``Content-MD5`` (RFC 1864): S3 rejects the upload if the bytes it got differ."""
    return {"content-md5": base64.b64encode(hashlib.md5(body).digest()).decode("ascii")}


def _content_headers(
    content_type: str | None, metadata: Mapping[str, str] | None
) -> dict[str, str]:
    headers = {} if content_type is None else {"content-type": content_type}
    for name, value in (metadata or {}).items():
        if not _METADATA_NAME.fullmatch(name):
            raise ValueError(f"user metadata name {name!r} is not a valid HTTP header name")
        if not _PRINTABLE_ASCII.fullmatch(value):
            raise ValueError(
                f"user metadata {name!r} must be printable ASCII (S3 sends it as a header), "
                f"got {value!r}"
            )
        headers[f"{responses.METADATA_PREFIX}{name.lower()}"] = value
    return headers
