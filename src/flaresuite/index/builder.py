"""One index run: list, select, learn metadata, render, publish.

Safety rules, each because the reference generator broke it at least once:

* a listing that fails or ends early publishes nothing for that prefix (an emptied index is
  worse than a stale one), and a listing with no distribution at all is treated the same way;
* a page whose bytes equal the stored object's (R2 ETag = MD5 of a single-part upload) is
  not rewritten, so steady-state runs write nothing. Each destination is listed once per run
  per outermost prefix (``whl/`` covers ``whl/nightly/`` …), not once per prefix;
* past the time budget no more metadata is fetched; what was learnt is saved in the cache and
  the prefix is *deferred*: its pages stay as they were and the next run resumes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

from packaging.utils import NormalizedName

from flaresuite.index import layout
from flaresuite.index.allow_list import default_allow_list
from flaresuite.index.cache import MetadataCache, SidecarFacts, load_cache, save_cache
from flaresuite.index.core_metadata import requires_python
from flaresuite.index.model import Distribution, FileMetadata, SourceObject
from flaresuite.index.pages import Page, render_libtorch, render_prefix
from flaresuite.index.selection import select, select_archives
from flaresuite.index.source import Source
from flaresuite.logs import Log, json_log
from flaresuite.ports import Bucket, Clock, SystemClock

Progress = Callable[[str, int, int | None], None]
"""``progress(phase, done, total)``; ``total`` is ``None`` while unknown (listing)."""

STATUS_KEY = "_flaresuite/index-status.json"
"""Where the last run's report is kept, for ``GET /status``."""


@dataclass(frozen=True, slots=True)
class BuildConfig:
    prefixes: Sequence[str] = layout.DEFAULT_PREFIXES
    nightly_keep: int = 60
    """Newest distinct public versions kept per project on ``whl/nightly``."""
    allow_list: frozenset[NormalizedName] = field(default_factory=default_allow_list)
    warn_after: tuple[float, ...] = (20.0, 40.0)
    """Seconds of run time at which a budget warning is logged."""
    stop_metadata_after: float = 40.0
    """Seconds of run time after which no more HEAD/GET requests start."""
    concurrency: int = 16
    cache_control: Callable[[str], str] | None = None
    """Cache-Control per prefix; defaults to :func:`default_cache_control`."""


def default_cache_control(prefix: str) -> str:
    """Release indexes change rarely and are cached 10 minutes; nightly, test and preview
    indexes change every hour and must never be served stale (download.pytorch.org's rule)."""
    if any(part in prefix for part in ("nightly", "test", "preview")):
        return "no-cache,no-store,must-revalidate"
    return "max-age=600, public, must-revalidate"


PrefixStatus = Literal["ok", "failed", "deferred", "empty"]


@dataclass(slots=True)
class PrefixReport:
    prefix: str
    status: PrefixStatus = "ok"
    objects: int = 0
    distributions: int = 0
    hidden: int = 0
    rejected: list[str] = field(default_factory=list)
    heads: int = 0
    sidecar_reads: int = 0
    cache_hits: int = 0
    metadata_pending: int = 0
    pages: int = 0
    pages_written: int = 0
    pages_unchanged: int = 0
    seconds: float = 0.0
    error: str | None = None


@dataclass(slots=True)
class RunReport:
    started_at: float
    seconds: float = 0.0
    prefixes: list[PrefixReport] = field(default_factory=list)

    @property
    def status(self) -> Literal["ok", "partial", "failed"]:
        states = {p.status for p in self.prefixes}
        if states <= {"ok", "empty"}:
            return "ok"
        if states <= {"failed"}:
            return "failed"
        return "partial"

    def to_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 3),
            "prefixes": [asdict(p) for p in self.prefixes],
        }


class _Budget:
    def __init__(self, clock: Clock, config: BuildConfig, log: Log) -> None:
        self._clock = clock
        self._start = clock.monotonic()
        self._pending_warnings = sorted(config.warn_after)
        self._stop_after = config.stop_metadata_after
        self._log = log

    def elapsed(self) -> float:
        return self._clock.monotonic() - self._start

    def check(self) -> float:
        """Logs each warning threshold once it is passed; returns the elapsed seconds.
        Called while listing, before each fetch and after each prefix, so a slow run warns
        whichever phase it is in."""
        elapsed = self.elapsed()
        while self._pending_warnings and elapsed >= self._pending_warnings[0]:
            threshold = self._pending_warnings.pop(0)
            self._log("index.budget_warning", seconds=round(elapsed, 3), threshold=threshold)
        return elapsed

    def allows_fetch(self) -> bool:
        return self.check() < self._stop_after


class IndexBuilder:
    def __init__(
        self,
        source: Source,
        destinations: Sequence[Bucket],
        *,
        config: BuildConfig | None = None,
        clock: Clock | None = None,
        log: Log = json_log,
        progress: Progress | None = None,
    ) -> None:
        if not destinations:
            raise ValueError("at least one destination bucket is required")
        self.source = source
        self.destinations = tuple(destinations)
        self.config = config or BuildConfig()
        self.clock = clock or SystemClock()
        self.log = log
        self.progress = progress or (lambda phase, done, total: None)

    async def run(self) -> RunReport:
        report = RunReport(started_at=self.clock.now())
        budget = _Budget(self.clock, self.config, self.log)
        stored = [_StoredPages(bucket, self.config.prefixes) for bucket in self.destinations]
        for prefix in self.config.prefixes:
            started = self.clock.monotonic()
            prefix_report = PrefixReport(prefix=prefix)
            try:
                await self._build_prefix(prefix, prefix_report, budget, stored)
            except Exception as error:  # one prefix's failure must not stop the others
                prefix_report.status = "failed"
                prefix_report.error = f"{type(error).__name__}: {error}"
            prefix_report.seconds = round(self.clock.monotonic() - started, 3)
            budget.check()
            self.log("index.prefix", **asdict(prefix_report))
            report.prefixes.append(prefix_report)
        report.seconds = budget.elapsed()
        await self._save_status(report)
        self.log("index.run", status=report.status, seconds=round(report.seconds, 3))
        return report

    async def _build_prefix(
        self,
        prefix: str,
        report: PrefixReport,
        budget: _Budget,
        stored: Sequence[_StoredPages],
    ) -> None:
        objects = await self._list(prefix, report, budget)
        if layout.is_libtorch(prefix):
            listing = select_archives(prefix, objects)
            report.distributions = sum(len(archives) for archives in listing.values())
            if not report.distributions:
                report.status = "empty"
                return
            await self._publish(prefix, list(render_libtorch(listing)), report, stored)
            return

        nightly = layout.is_nightly(prefix)
        selection = select(
            prefix,
            objects,
            allow_list=self.config.allow_list if nightly else None,
            keep=self.config.nightly_keep if nightly else None,
        )
        report.distributions = len(selection.distributions)
        report.hidden = selection.hidden
        report.rejected = [key for key, _reason in selection.rejected]
        for key, reason in selection.rejected:
            self.log("index.rejected", prefix=prefix, key=key, reason=reason)
        if not selection.distributions:
            report.status = "empty"
            return

        cache, cache_problem = await load_cache(self.destinations[0], prefix)
        if cache_problem:
            self.log("index.cache_discarded", prefix=prefix, reason=cache_problem)
        try:
            metadata = await self._learn_metadata(
                selection.distributions, cache, budget, report, with_hashes=not nightly
            )
        finally:
            # Whatever was learnt is kept, even when a HEAD failed: the next run resumes.
            cache.prune(obj.key for obj in objects)
            if cache.dirty:
                await save_cache(self.destinations[0], prefix, cache)
        if report.metadata_pending:
            report.status = "deferred"
            return
        pages = list(render_prefix(selection, metadata, with_hashes=not nightly))
        await self._publish(prefix, pages, report, stored)

    async def _list(self, prefix: str, report: PrefixReport, budget: _Budget) -> list[SourceObject]:
        objects: list[SourceObject] = []
        async for obj in self.source.list(prefix):
            objects.append(obj)
            if len(objects) % 1000 == 0:
                budget.check()
                self.progress(f"{prefix}: listing", len(objects), None)
        report.objects = len(objects)
        return objects

    async def _learn_metadata(
        self,
        distributions: Sequence[Distribution],
        cache: MetadataCache,
        budget: _Budget,
        report: PrefixReport,
        *,
        with_hashes: bool,
    ) -> dict[str, FileMetadata]:
        """Checksums (only where pages show them) and sidecar facts, from the cache when the
        ETag matches, else from the source while the budget allows."""
        metadata: dict[str, FileMetadata] = {}
        missing: list[Distribution] = []
        for dist in distributions:
            known = self._cached_metadata(dist, cache, with_hashes)
            if known is None:
                missing.append(dist)
            else:
                report.cache_hits += 1
                metadata[dist.obj.key] = known

        done = 0

        async def learn(dist: Distribution) -> None:
            nonlocal done
            if not budget.allows_fetch():
                report.metadata_pending += 1
                return
            metadata[dist.obj.key] = await self._fetch_metadata(dist, cache, report, with_hashes)
            done += 1
            self.progress(f"{report.prefix}: metadata", done, len(missing))

        await _bounded(map(learn, missing), self.config.concurrency)
        return metadata

    def _cached_metadata(
        self, dist: Distribution, cache: MetadataCache, with_hashes: bool
    ) -> FileMetadata | None:
        """What the cache knows about ``dist``, or ``None`` when part of it must be fetched."""
        sha256 = None
        if with_hashes:
            found, sha256 = cache.checksum(dist.obj.key, dist.obj.etag)
            if not found:
                return None
        if dist.sidecar is None:
            return FileMetadata(sha256=sha256)
        facts = cache.sidecar(dist.sidecar.key, dist.sidecar.etag)
        if facts is None:
            return None
        return FileMetadata(sha256, facts.sha256, facts.requires_python)

    async def _fetch_metadata(
        self, dist: Distribution, cache: MetadataCache, report: PrefixReport, with_hashes: bool
    ) -> FileMetadata:
        """Fetches only what the cache lacks into the cache, then answers from it."""
        if with_hashes and not cache.checksum(dist.obj.key, dist.obj.etag)[0]:
            report.heads += 1
            sha256 = await self.source.sha256(dist.obj)
            cache.remember_checksum(dist.obj.key, dist.obj.etag, sha256)
        sidecar = dist.sidecar
        if sidecar is not None and cache.sidecar(sidecar.key, sidecar.etag) is None:
            report.sidecar_reads += 1
            body = await self.source.read(sidecar)
            facts = SidecarFacts(hashlib.sha256(body).hexdigest(), requires_python(body))
            cache.remember_sidecar(sidecar.key, sidecar.etag, facts)
        known = self._cached_metadata(dist, cache, with_hashes)
        assert known is not None  # everything missing was just remembered
        return known

    async def _publish(
        self, prefix: str, pages: list[Page], report: PrefixReport, stored: Sequence[_StoredPages]
    ) -> None:
        """Write changed pages to every destination, project pages before the lists that link
        to them, so a reader never follows a fresh link to a page not yet written."""
        report.pages = len(pages)
        cache_control = (self.config.cache_control or default_cache_control)(prefix)
        digests = {page.key: hashlib.md5(page.body).hexdigest() for page in pages}
        for destination in stored:
            etags = await destination.etags(prefix)
            changed = [p for p in pages if etags.get(p.key) != digests[p.key]]
            report.pages_unchanged += len(pages) - len(changed)
            written = 0

            async def write(page: Page, destination: _StoredPages = destination) -> None:
                nonlocal written
                await destination.bucket.put(
                    page.key, page.body, content_type=page.content_type, cache_control=cache_control
                )
                destination.remember(page.key, digests[page.key])
                written += 1
                self.progress(f"{prefix}: writing", written, len(changed))

            for listings in (False, True):
                batch = (p for p in changed if p.is_listing == listings)
                await _bounded(map(write, batch), self.config.concurrency)
            report.pages_written += written

    async def _save_status(self, report: RunReport) -> None:
        body = json.dumps(report.to_dict(), indent=2).encode()
        await self.destinations[0].put(
            STATUS_KEY, body, content_type="application/json", cache_control="no-store"
        )


class _StoredPages:
    """What one destination holds, key -> ETag, listed at most once per run for each outermost
    configured prefix and kept up to date with this run's own writes."""

    def __init__(self, bucket: Bucket, prefixes: Sequence[str]) -> None:
        self.bucket = bucket
        self._roots = [p for p in prefixes if not any(_is_below(p, q) for q in prefixes)]
        self._listed: set[str] = set()
        self._etags: dict[str, str] = {}

    async def etags(self, prefix: str) -> Mapping[str, str]:
        root = next(r for r in self._roots if r == prefix or _is_below(prefix, r))
        if root not in self._listed:
            cursor: str | None = None
            while True:
                listing = await self.bucket.list(prefix=root + "/", cursor=cursor)
                for obj in listing.objects:
                    self._etags[obj.key] = obj.etag.strip('"')
                if not listing.truncated:
                    break
                cursor = listing.cursor
            self._listed.add(root)
        return self._etags

    def remember(self, key: str, etag: str) -> None:
        self._etags[key] = etag


def _is_below(prefix: str, other: str) -> bool:
    return prefix.startswith(other + "/")


async def _bounded(jobs: Iterable[Awaitable[None]], limit: int) -> None:
    """Await ``jobs`` with at most ``limit`` in flight, without creating them all at once."""
    iterator = iter(jobs)

    async def worker() -> None:
        for job in iterator:
            await job

    # A TaskGroup cancels the other workers when one fails, so nothing keeps writing after an
    # error has decided the outcome; the first error is what the report names.
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, limit)):
                group.create_task(worker())
    except ExceptionGroup as failures:
        raise failures.exceptions[0] from None
