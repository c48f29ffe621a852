"""Direct mode: stream documents from the source into the Glean Indexing API.

FULL sends every document through one bulk upload (one ``uploadId``; ``isFirstPage`` on the
first page, ``isLastPage`` on the last; pages of at most 1000 documents or 5 MiB). It holds one
source page and one Glean page at a time; the page being filled is sent only once the next
document shows it is not the last. A FULL run that finds no documents at all fails instead of
sending an empty last page, which would make Glean delete the whole datasource.

INCREMENTAL sends what changed since the checkpoint through ``/indexdocuments``, paced to
Glean's 600 documents per minute, then ``/deletedocument`` for each deletion of that page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flaresuite.glean.config import DirectConfig
from flaresuite.glean.documents import InvalidDocument, serialize_document
from flaresuite.glean.indexing import (
    ENVELOPE_BYTES,
    MAX_PAGE_BYTES,
    MAX_PAGE_DOCUMENTS,
    GleanIndexingClient,
)
from flaresuite.glean.retry import Retrying, SlidingWindowLimiter
from flaresuite.glean.source import DocumentSource
from flaresuite.glean.state import SyncState
from flaresuite.logs import Log
from flaresuite.ports import Clock

INDEX_DOCUMENTS_PER_MINUTE = 600
"""Glean's limit on ``/indexdocuments`` per token (``docs/get-started/rate-limits.mdx``)."""

INCREMENTAL_BATCH_DOCUMENTS = 100
"""Documents per ``/indexdocuments`` call: six calls a minute at the limit."""

OTHER_REQUESTS_PER_SECOND = 30
"""Glean's per-token limit on the remaining endpoints, ``/deletedocument`` among them."""


class EmptyFullSync(Exception):
    """The source listed no documents for a FULL run."""


@dataclass(frozen=True, slots=True)
class SyncCounts:
    indexed: int
    deleted: int = 0


class _Batch:
    """Serialised documents for one request, closed at a document count or a byte size."""

    def __init__(self, max_documents: int) -> None:
        self.max_documents = max_documents
        self.documents: list[bytes] = []
        self.size = 0

    def fits(self, encoded: bytes) -> bool:
        return (
            len(self.documents) < self.max_documents
            and self.size + len(encoded) + 1 <= MAX_PAGE_BYTES - ENVELOPE_BYTES
        )

    def add(self, encoded: bytes) -> None:
        self.documents.append(encoded)
        self.size += len(encoded) + 1

    def take(self) -> list[bytes]:
        documents, self.documents, self.size = self.documents, [], 0
        return documents


class DirectSync:
    def __init__(
        self,
        config: DirectConfig,
        retrying: Retrying,
        state: SyncState,
        *,
        clock: Clock,
        new_id: Callable[[], str],
        log: Log,
    ) -> None:
        self._config = config
        self._state = state
        self._clock = clock
        self._sleep = retrying.sleep
        self._new_id = new_id
        self._log = log
        self._source = DocumentSource(
            retrying,
            config.source_url,
            token=config.source_token,
            page_size=config.source_page_size,
        )
        self._glean = GleanIndexingClient(retrying, config.glean_url, config.glean_token)

    async def full(self) -> SyncCounts:
        datasource = self._config.datasource
        upload_id = self._new_id()
        force_restart = await self._state.unfinished_upload() is not None
        pages_sent = 0
        indexed = 0

        async def send(documents: list[bytes], *, last: bool) -> None:
            nonlocal pages_sent, indexed
            if pages_sent == 0:
                # Recorded before the first page leaves, so that a crash at any later point
                # makes the next FULL run restart the upload.
                await self._state.begin_upload(upload_id)
            await self._glean.bulk_index_page(
                upload_id=upload_id,
                datasource=datasource,
                documents=documents,
                is_first_page=pages_sent == 0,
                is_last_page=last,
                force_restart_upload=force_restart and pages_sent == 0,
            )
            pages_sent += 1
            indexed += len(documents)
            self._log(
                "glean.bulk_page",
                uploadId=upload_id,
                page=pages_sent,
                documents=len(documents),
                last=last,
            )

        batch = _Batch(MAX_PAGE_DOCUMENTS)
        async for page in self._source.pages():
            for document in page.documents:
                encoded = _encode(document, datasource)
                if not batch.fits(encoded):
                    await send(batch.take(), last=False)
                batch.add(encoded)
        if not batch.documents:
            raise EmptyFullSync(
                "the document source listed no documents; a FULL upload of nothing would "
                "delete every document of the datasource, so none was sent"
            )
        await send(batch.take(), last=True)
        await self._state.finish_upload()
        return SyncCounts(indexed=indexed)

    async def incremental(self, since: int) -> SyncCounts:
        datasource = self._config.datasource
        documents_limit = SlidingWindowLimiter(
            INDEX_DOCUMENTS_PER_MINUTE, 60.0, clock=self._clock, sleep=self._sleep
        )
        requests_limit = SlidingWindowLimiter(
            OTHER_REQUESTS_PER_SECOND, 1.0, clock=self._clock, sleep=self._sleep
        )
        indexed = deleted = 0

        async def send(documents: list[bytes]) -> None:
            nonlocal indexed
            await documents_limit.acquire(len(documents))
            await self._glean.index_documents(datasource, documents)
            indexed += len(documents)

        batch = _Batch(INCREMENTAL_BATCH_DOCUMENTS)
        async for page in self._source.pages(since=since):
            for document in page.documents:
                encoded = _encode(document, datasource)
                if not batch.fits(encoded):
                    await send(batch.take())
                batch.add(encoded)
            if batch.documents:
                await send(batch.take())
            for deletion in page.deleted:
                await requests_limit.acquire(1)
                await self._glean.delete_document(datasource, deletion.object_type, deletion.id)
                deleted += 1
        return SyncCounts(indexed=indexed, deleted=deleted)


def _encode(document: object, datasource: str) -> bytes:
    encoded = serialize_document(document, datasource)
    if len(encoded) > MAX_PAGE_BYTES - ENVELOPE_BYTES:
        doc_id = document.get("id") if isinstance(document, dict) else None
        raise InvalidDocument(
            f"document {doc_id!r}: {len(encoded)} bytes of JSON do not fit in one "
            f"{MAX_PAGE_BYTES}-byte request"
        )
    return encoded
