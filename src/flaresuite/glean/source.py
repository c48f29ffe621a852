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

Pages are yielded one at a time, so a sync holds one source page, never the whole set.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flaresuite.glean.config import DIRECT_REQUEST_TIMEOUT
from flaresuite.glean.documents import MAX_ID_LENGTH
from flaresuite.glean.retry import Retrying
from flaresuite.http import HttpRequest


class SourceError(Exception):
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
    def __init__(self, retrying: Retrying, url: str, *, token: str | None, page_size: int) -> None:
        self._retrying = retrying
        self._url = url
        self._token = token
        self._page_size = page_size

    async def pages(self, since: int | None = None) -> AsyncIterator[SourcePage]:
        """Every page in order; ``since`` asks for changes only (INCREMENTAL)."""
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            page, cursor = await self._page(cursor, since)
            yield page
            if cursor is None:
                return
            # A source that hands back a cursor it already gave would loop for ever.
            if cursor in seen:
                raise SourceError(f"the source repeated cursor {cursor!r}")
            seen.add(cursor)

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
        response = await self._retrying.send(request)
        if not response.ok:
            raise SourceError(f"the document source answered HTTP {response.status}")
        try:
            data = json.loads(response.body)
        except ValueError:
            raise SourceError("the document source answered with invalid JSON") from None
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
            and isinstance(entry.get("id"), str)
            and 0 < len(entry["id"]) <= MAX_ID_LENGTH
            and isinstance(entry.get("objectType"), str)
            and entry["objectType"]
        ):
            raise SourceError(f"'deleted' entries must be {{id, objectType}}, got {entry!r:.120}")
        deletions.append(Deletion(entry["id"], entry["objectType"]))
    cursor = data.get("nextCursor")
    if cursor is not None and (not isinstance(cursor, str) or not cursor):
        raise SourceError(f"'nextCursor' must be a non-empty string or null, got {cursor!r:.60}")
    return SourcePage(documents, deletions), cursor


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))
