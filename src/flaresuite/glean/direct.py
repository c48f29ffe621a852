"""Direct mode: stream documents from the source into the Glean Indexing API.

FULL sends every document through one bulk upload (one ``uploadId``; ``isFirstPage`` on the
first page, ``isLastPage`` on the last; pages of at most 1000 documents or 5 MiB). It holds one
source page and one Glean page at a time; the page being filled is sent only once the next
document shows it is not the last. A FULL run that finds no documents at all fails instead of
sending an empty last page, which would make Glean delete the whole datasource.

INCREMENTAL sends what changed since the checkpoint through ``/indexdocuments``, paced to
Glean's 600 documents per minute, then ``/deletedocument`` for each deletion of that page.

A document that breaks Glean's schema (:mod:`.documents`) is refused by id with the reason,
logged, and counted in the run's record; the rest are indexed. In a FULL run a refused
document is missing from the upload, so Glean removes any earlier version of it: the run
record says which ones, so the source can be fixed before the next FULL run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flaresuite.errors import RuntimeFailure
from flaresuite.glean.config import DirectConfig
from flaresuite.glean.documents import InvalidDocument, serialize_document
from flaresuite.glean.indexing import (
    ENVELOPE_BYTES,
    MAX_PAGE_BYTES,
    MAX_PAGE_DOCUMENTS,
    GleanIndexingClient,
)
from flaresuite.glean.pacing import SlidingWindowLimiter
from flaresuite.glean.source import DocumentSource
from flaresuite.glean.state import Refusal, SyncState
from flaresuite.glean.upstream import Upstream
from flaresuite.logs import Log
from flaresuite.ports import Clock
from flaresuite.retry import Sleep

INDEX_DOCUMENTS_PER_MINUTE = 600
"""Glean's limit on ``/indexdocuments`` per token (``docs/get-started/rate-limits.mdx``)."""

INCREMENTAL_BATCH_DOCUMENTS = 100
"""Documents per ``/indexdocuments`` call: six calls a minute at the limit."""

OTHER_REQUESTS_PER_SECOND = 30
"""Glean's per-token limit on the remaining endpoints, ``/deletedocument`` among them."""


REFUSALS_KEPT = 20
"""Refused documents named in a run's record and logged one by one; past this many, only the
count grows (a source with a broken export could otherwise flood the log and the record)."""


class EmptyFullSync(RuntimeFailure):
    """The source listed no documents, or no valid one, for a FULL run."""


@dataclass(frozen=True, slots=True)
class SyncCounts:
    indexed: int
    deleted: int = 0
    refused: int = 0
    refusals: tuple[Refusal, ...] = ()
    """The first :data:`REFUSALS_KEPT` refused documents."""


class _Refusals:
    """The documents a run refused: each logged, the first few kept for the run record."""

    def __init__(self, log: Log) -> None:
        self._log = log
        self.count = 0
        self.kept: list[Refusal] = []

    def add(self, invalid: InvalidDocument) -> None:
        self.count += 1
        if len(self.kept) < REFUSALS_KEPT:
            refusal = Refusal(invalid.document_id, invalid.reason)
            self.kept.append(refusal)
            self._log("glean.document_refused", **refusal.to_json())


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
        upstream: Upstream,
        state: SyncState,
        *,
        clock: Clock,
        sleep: Sleep,
        new_id: Callable[[], str],
        log: Log,
    ) -> None:
        self._config = config
        self._state = state
        self._clock = clock
        self._sleep = sleep
        self._new_id = new_id
        self._log = log
        self._source = DocumentSource(
            upstream,
            config.source_url,
            token=config.source_token,
            page_size=config.source_page_size,
            max_pages=config.source_max_pages,
        )
        self._glean = GleanIndexingClient(upstream, config.glean_url, config.glean_token)

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
        refusals = _Refusals(self._log)
        async for page in self._source.pages():
            for document in page.documents:
                encoded = _encode(document, datasource, refusals)
                if encoded is None:
                    continue
                if not batch.fits(encoded):
                    await send(batch.take(), last=False)
                batch.add(encoded)
        if not batch.documents:
            listed = (
                f"no valid documents ({refusals.count} refused)"
                if refusals.count
                else "no documents"
            )
            raise EmptyFullSync(
                f"the document source listed {listed}; a FULL upload of nothing would "
                "delete every document of the datasource, so none was sent"
            )
        await send(batch.take(), last=True)
        await self._state.finish_upload()
        return SyncCounts(indexed, 0, refusals.count, tuple(refusals.kept))

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
        refusals = _Refusals(self._log)
        async for page in self._source.pages(since=since):
            for document in page.documents:
                encoded = _encode(document, datasource, refusals)
                if encoded is None:
                    continue
                if not batch.fits(encoded):
                    await send(batch.take())
                batch.add(encoded)
            if batch.documents:
                await send(batch.take())
            for deletion in page.deleted:
                await requests_limit.acquire(1)
                await self._glean.delete_document(datasource, deletion.object_type, deletion.id)
                deleted += 1
        return SyncCounts(indexed, deleted, refusals.count, tuple(refusals.kept))


def _encode(document: object, datasource: str, refusals: _Refusals) -> bytes | None:
    """The document's JSON, or ``None`` once it is refused."""
    try:
        encoded = serialize_document(document, datasource)
    except InvalidDocument as invalid:
        refusals.add(invalid)
        return None
    if len(encoded) > MAX_PAGE_BYTES - ENVELOPE_BYTES:
        assert isinstance(document, dict)  # serialize_document accepted it
        refusals.add(
            InvalidDocument(
                document["id"],
                f"{len(encoded)} bytes of JSON do not fit in one {MAX_PAGE_BYTES}-byte request",
            )
        )
        return None
    return encoded
