"""The document source of direct mode: a paginated HTTP JSON endpoint.

Contract (also in ``docs/glean.md``)::

    GET {DOCUMENT_SOURCE_URL}?limit=N[&cursor=C][&since=S]
    Authorization: Bearer {DOCUMENT_SOURCE_TOKEN}        (only when the secret is set)

    200 {"documents": [<Glean DocumentDefinition>, ...],
         "deleted":   [{"id": "...", "objectType": "..."}, ...],
         "nextCursor": "opaque" | null}

* ``limit`` is a hint; a page may hold fewer or more documents.
* ``cursor`` is the previous page's ``nextCursor``; ``null`` or absent ends the listing.
* ``since`` (epoch seconds) is sent only by INCREMENTAL runs: return the documents created or
  changed at or after it, and in ``deleted`` those removed at or after it. FULL runs omit it
  and ignore ``deleted``.

Pages are yielded one at a time, so a sync holds one source page, never the whole set. A page
is at most :data:`MAX_PAGE_BYTES` of JSON, read through the suite's JSON guard; a run reads at
most ``DOCUMENT_SOURCE_MAX_PAGES`` pages, so a source that hands out fresh cursors for ever
fails the run instead of holding it (and the lock) for ever.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flaresuite.errors import RuntimeFailure
from flaresuite.glean.config import DIRECT_REQUEST_TIMEOUT, SOURCE_MAX_PAGES
from flaresuite.glean.documents import MAX_ID_LENGTH, printable
from flaresuite.glean.upstream import Upstream, read_json
from flaresuite.http import HttpRequest
from flaresuite.jsonbody import BadJson

MAX_PAGE_BYTES = 16 * 1024 * 1024
"""The largest source page read. A Worker has 128 MB for everything, and a page is held as
bytes, as text and as parsed objects at once while its documents are serialised, so a page
several times this size would not fit; 16 MiB still holds three documents of Glean's 5 MiB
maximum."""


class SourceError(RuntimeFailure):
    """The source answered with an error or with something that breaks the contract."""


@dataclass(frozen=True, slots=True)
class Deletion:
    id: str
    object_type: str


@dataclass(frozen=True, slots=True)
class SourcePage:
    documents: Sequence[object]
    """Unvalidated: :func:`flaresuite.glean.documents.serialize_document` checks each one."""
    deleted: Sequence[Deletion]


class DocumentSource:
    def __init__(
        self, upstream: Upstream, url: str, *, token: str | None, page_size: int, max_pages: int
    ) -> None:
        self._upstream = upstream
        self._url = url
        self._token = token
        self._page_size = page_size
        self._max_pages = max_pages

    async def pages(self, since: int | None = None) -> AsyncIterator[SourcePage]:
        """Every page in order; ``since`` asks for changes only (INCREMENTAL)."""
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(self._max_pages):
            page, cursor = await self._page(cursor, since)
            yield page
            if cursor is None:
                return
            # A source that hands back a cursor it already gave would loop for ever.
            if cursor in seen:
                raise SourceError(f"the source repeated cursor {printable(cursor)!r:.80}")
            seen.add(cursor)
        raise SourceError(
            f"the source had more than {self._max_pages:,} pages ({SOURCE_MAX_PAGES}); "
            "nothing after them was read"
        )

    async def _page(self, cursor: str | None, since: int | None) -> tuple[SourcePage, str | None]:
        query = {"limit": str(self._page_size)}
        if cursor is not None:
            query["cursor"] = cursor
        if since is not None:
            query["since"] = str(since)
        headers = {"accept": "application/json"}
        if self._token:
            headers["authorization"] = f"Bearer {self._token}"
        request = HttpRequest(
            "GET", _with_query(self._url, query), headers, timeout=DIRECT_REQUEST_TIMEOUT
        )
        response = await self._upstream.send(request)
        if not response.ok:
            raise SourceError(f"the document source answered HTTP {response.status}")
        try:
            data = read_json(response, max_bytes=MAX_PAGE_BYTES)
        except BadJson as error:
            raise SourceError(f"the document source answered with invalid JSON ({error})") from None
        return _parse_page(data)


def _parse_page(data: object) -> tuple[SourcePage, str | None]:
    if not isinstance(data, dict):
        raise SourceError("a source page must be a JSON object")
    documents = data.get("documents")
    if not isinstance(documents, list):
        raise SourceError("a source page must have a 'documents' array")
    deleted = data.get("deleted", [])
    if not isinstance(deleted, list):
        raise SourceError("'deleted' must be an array of {id, objectType}")
    deletions = []
    for entry in deleted:
        if not (
            isinstance(entry, dict)
            and _is_name(entry.get("id"), MAX_ID_LENGTH)
            and _is_name(entry.get("objectType"))
        ):
            shown = printable(repr(entry))
            raise SourceError(f"'deleted' entries must be {{id, objectType}}, got {shown:.120}")
        deletions.append(Deletion(entry["id"], entry["objectType"]))
    cursor = data.get("nextCursor")
    if cursor is not None and (not isinstance(cursor, str) or not cursor):
        raise SourceError(f"'nextCursor' must be a non-empty string or null, got {cursor!r:.60}")
    return SourcePage(documents, deletions), cursor


def _is_name(value: object, max_length: int | None = None) -> bool:
    """A non-empty string UTF-8 can carry (no lone surrogate), of at most ``max_length``."""
    if not isinstance(value, str) or not value or value != printable(value):
        return False
    return max_length is None or len(value) <= max_length


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))
