"""One index run: list, select, learn metadata, render and publish, one directory at a time.

A prefix is listed one level at a time (``delimiter=/``): its root files, then each accepted
accelerator directory on its own, so ``whl`` never walks ``whl/nightly/**``. Each directory is
selected, completed with metadata, rendered and written before the next is listed; what stays
in memory across directories is the prefix root's rendered rows and, per directory, its rows
compressed (a few dozen bytes per file) for the prefix root page, which lists every file.

Safety rules, each because the reference generator broke it at least once:

* a listing that fails or ends early publishes nothing for that directory (an emptied index is
  worse than a stale one), and a prefix holding no distribution at all publishes nothing;
* a page is written only when its bytes changed (R2's ETag is the MD5 of a single-part
  upload), and never over a page someone else wrote that links to other hosts; such a page
  kept in the source beside the wheels is published as it is (:mod:`.foreign`);
* project pages are written before the lists that link to them;
* past the time or subrequest budget no more metadata is fetched: what was learnt is saved,
  the directory is *deferred* (its pages stay as they were) and the next run resumes.

Steady state does nothing it does not need to: a directory whose listing (key, ETag,
LastModified and size of its distributions and sidecars, names of its sub-directories), prefix
root and configuration are unchanged since its pages were published is skipped before anything
is parsed or rendered.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

from packaging.utils import NormalizedName

from flaresuite.index import layout
from flaresuite.index.allow_list import default_allow_list
from flaresuite.index.budget import DEFAULT_MAX_SUBREQUESTS, Budget, Limits, SubrequestsSpent
from flaresuite.index.core_metadata import requires_python
from flaresuite.index.foreign import DEFAULT_FILE_HOSTS, FileHosts
from flaresuite.index.model import (
    Distribution,
    SourceObject,
    Subdirectory,
)
from flaresuite.index.names import NameParser
from flaresuite.index.overrides import RequiresPythonOverrides
from flaresuite.index.pages import (
    HTML,
    SIMPLE_JSON,
    libtorch_listing,
    project_list_html,
    project_list_json,
    project_pages,
)
from flaresuite.index.report import PrefixReport, RunReport
from flaresuite.index.rows import FileEntry, Segment, in_page_order, upload_time
from flaresuite.index.selection import (
    Policy,
    Retention,
    retention_digest,
    select,
    select_archives,
)
from flaresuite.index.source import Source
from flaresuite.index.state import (
    DirectoryRecord,
    DirectoryRows,
    DirectoryState,
    PrefixManifest,
    SidecarFacts,
    StateStore,
    fingerprint,
)
from flaresuite.logs import Log, json_log
from flaresuite.ports import MAX_DELETE_KEYS, Bucket, Clock, SystemClock

Progress = Callable[[str, int, int | None], None]
"""``progress(phase, done, total)``; ``total`` is ``None`` while unknown (listing)."""

PAGES_VERSION = "1"
"""Part of every directory's digest: change it with any change to the bytes of pages, so a
deploy re-renders directories whose listings did not change."""
INFLIGHT_BYTES = 4 << 20
"""Page bytes being written at once; one larger page is written alone."""
LARGE_PAGE = 256 << 10
"""Compressed rows past which a project's HTML and JSON pages are built one after the other
(about 2,000 files, or half a megabyte of page each): a prefix root page can list tens of
thousands."""


@dataclass(frozen=True, slots=True)
class BuildConfig:
    prefixes: Sequence[str] = layout.DEFAULT_PREFIXES
    nightly_keep: int = 60
    """Newest distinct public versions kept per project on ``whl/nightly``."""
    allow_list: frozenset[NormalizedName] = field(default_factory=default_allow_list)
    allow_list_prefixes: frozenset[str] = frozenset(layout.DEFAULT_ALLOW_LIST_PREFIXES)
    """Prefixes that publish only allow-listed projects."""
    requires_python_overrides: RequiresPythonOverrides = field(
        default_factory=RequiresPythonOverrides
    )
    file_base_url: str = ""
    """Where files are served from; ``""`` links them root-relative (``/whl/…``)."""
    file_hosts: frozenset[str] = frozenset(DEFAULT_FILE_HOSTS)
    """Hosts besides ``file_base_url``'s that serve the source's files: a page linking only
    there is a generator's page, not an index-only one (:mod:`.foreign`)."""
    max_subrequests: int | None = DEFAULT_MAX_SUBREQUESTS
    warn_after: tuple[float, ...] = (20.0, 40.0)
    stop_metadata_after: float = 40.0
    concurrency: int = 16

    @property
    def limits(self) -> Limits:
        return Limits(self.max_subrequests, self.stop_metadata_after, self.warn_after)


class IndexBuilder:
    def __init__(
        self,
        source: Source,
        destinations: Sequence[Bucket],
        state: Bucket,
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
        self.state = state
        self.config = config or BuildConfig()
        self.clock = clock or SystemClock()
        self.log = log
        self.progress = progress or (lambda phase, done, total: None)

    def budget(self) -> Budget:
        """A fresh budget for one invocation, from the configured limits."""
        return Budget(self.clock, self.config.limits, self.log)

    async def run(self, budget: Budget | None = None) -> RunReport:
        """Every configured prefix, one after another; stores and returns the report."""
        budget = budget or self.budget()
        report = RunReport(started_at=self.clock.now())
        for prefix in self.config.prefixes:
            report.prefixes.append(await self.build_prefix(prefix, budget))
        report.seconds = budget.elapsed()
        report.subrequests = budget.subrequests
        report.list_calls = budget.list_calls
        await self._store(budget).save_run(
            {
                "started_at": report.started_at,
                "mode": "inline",
                "prefixes": [p.prefix for p in report.prefixes],
                "seconds": round(report.seconds, 3),
                "subrequests": report.subrequests,
                "list_calls": report.list_calls,
            }
        )
        self.log(
            "index.run",
            status=report.status,
            seconds=round(report.seconds, 3),
            subrequests=report.subrequests,
            list_calls=report.list_calls,
        )
        return report

    async def build_prefix(self, prefix: str, budget: Budget | None = None) -> PrefixReport:
        """One prefix; its report is stored under ``status/`` as well as returned."""
        budget = budget or self.budget()
        started = self.clock.monotonic()
        spent, listed = budget.subrequests, budget.list_calls
        report = PrefixReport(prefix=prefix)
        build = _PrefixBuild(self, budget, prefix, report)
        try:
            with _young_collections_batched():
                await (build.libtorch() if layout.is_libtorch(prefix) else build.wheels())
        except SubrequestsSpent:
            report.status = "deferred"
        except Exception as error:  # one prefix's failure must not stop the others
            report.status = "failed"
            report.error = f"{type(error).__name__}: {error}"
        report.seconds = round(self.clock.monotonic() - started, 3)
        report.finished_at = self.clock.now()
        report.subrequests = budget.subrequests - spent
        report.list_calls = budget.list_calls - listed
        budget.check()
        self.log("index.prefix", **report.to_dict())
        try:
            await self._store(budget).save_report(prefix, report.to_dict())
        except Exception as error:
            self.log("index.report_not_saved", prefix=prefix, error=f"{type(error).__name__}")
        return report

    def _store(self, budget: Budget) -> StateStore:
        return StateStore(budget.bucket(self.state, reserved_writes=True))


GC_YOUNG_THRESHOLD = 20_000
"""Allocations between young-generation collections while a prefix builds (CPython's default
is 700). A build creates millions of small acyclic values (listed objects, parsed names, page
rows) while a large listing stays alive; at the default, the collections this triggers scan
that listing again and again and cost a quarter of a cold build's CPU. The young generation
then holds at most this many objects, a few MB at worst."""


@contextmanager
def _young_collections_batched() -> Iterator[None]:
    previous = gc.get_threshold()
    gc.set_threshold(max(previous[0], GC_YOUNG_THRESHOLD), *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)


_Keys = tuple[bytes | None, bytes | None]
"""A file's metadata cache keys: its checksum's (``None`` where pages show no hash) and its
sidecar's (``None`` without one)."""


PAGE_INPUTS = (*layout.ACCEPTED_SUFFIXES, layout.CORE_METADATA_SUFFIX)
"""Keys a page can be built from: distributions and their PEP 658 sidecars."""


def listing_digest(objects: Iterable[SourceObject], subdirectories: Iterable[str] = ()) -> str:
    """What a directory's pages are built from: each distribution's and sidecar's key, ETag,
    LastModified and size, and the paths of its sub-directories (where the source may keep
    index-only pages). Other keys never reach a page, and must not make a directory look
    changed: the reference generator rewrites ``<dir>/index.html`` (with a timestamp) every hour
    in the bucket it shares with the wheels."""
    digest = hashlib.sha256()
    for obj in objects:
        if obj.key.endswith(PAGE_INPUTS):
            digest.update(f"{obj.key}\0{obj.etag}\0{obj.modified}\0{obj.size}\n".encode())
    for path in sorted(subdirectories):
        digest.update(f"{path}/\n".encode())  # no page input ends with "/"
    return digest.hexdigest()


def _combine(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@dataclass(slots=True)
class _Listing:
    files: list[SourceObject] = field(default_factory=list)
    subdirectories: list[str] = field(default_factory=list)


class _SourcePage(NamedTuple):
    """An index-only page the source holds beside a directory's files."""

    md5: str
    body: bytes | None
    """``None`` when not read in this run: its published copy is known to be in place."""


@dataclass(slots=True)
class _Built:
    """One directory built in this run."""

    segments: dict[str, Segment]
    """Its own files' rows per project, for the prefix root page."""
    distributions: int
    skipped: tuple[str, ...]


class _PrefixBuild:
    """The build of one prefix in one run."""

    def __init__(
        self, builder: IndexBuilder, budget: Budget, prefix: str, report: PrefixReport
    ) -> None:
        self.builder = builder
        self.config = builder.config
        self.budget = budget
        self.prefix = prefix
        self.report = report
        self.source = builder.source
        self.log = builder.log
        self.progress = builder.progress
        self.destinations = [budget.bucket(d) for d in builder.destinations]
        self.store = StateStore(budget.bucket(builder.state, reserved_writes=True))
        self.parser = NameParser()
        self.cache_control = layout.cache_control(prefix)
        self.with_hashes = not layout.is_nightly(prefix)
        """Nightly pages never promise a hash: a CDN may serve an older build under the same
        name as a fresh hash (test-infra#6307), so nightly wheels are never HEADed."""
        self.root_mirrored: set[str] = set()
        """Projects whose page at the prefix root is the source's own, as last read."""
        self.file_hosts = FileHosts.of(self.config.file_base_url, self.config.file_hosts)

    # --- listing --------------------------------------------------------------------------

    async def listing(self, directory: str, *, again: bool = False) -> _Listing:
        """One level of ``directory``; ``again`` for a second listing in the same run, whose
        objects the report has already counted."""
        listing = _Listing()
        async for entry in self.source.list_directory(directory):
            if isinstance(entry, Subdirectory):
                listing.subdirectories.append(entry.path)
            else:
                listing.files.append(entry)
                if len(listing.files) % 1000 == 0:
                    self.budget.check()
                    self.progress(f"{directory}: listing", len(listing.files), None)
        if not again:
            self.report.objects += len(listing.files)
        return listing

    def accelerator_directories(self, subdirectories: Iterable[str]) -> list[str]:
        accepted = sorted(
            p for p in subdirectories if layout.is_accelerator_directory(layout.basename(p))
        )
        self.report.directories = len(accepted)
        return accepted

    # --- wheel prefixes -------------------------------------------------------------------

    async def wheels(self) -> None:
        manifest = await self.store.manifest(self.prefix)
        loaded = manifest.to_bytes()
        try:
            await self._wheels(manifest)
        finally:
            if manifest.to_bytes() != loaded:
                await self.store.save_manifest(self.prefix, manifest)

    async def _wheels(self, manifest: PrefixManifest) -> None:
        root = await self.listing(self.prefix)
        directories = self.accelerator_directories(root.subdirectories)
        allow_list = (
            self.config.allow_list if self.prefix in self.config.allow_list_prefixes else None
        )
        configuration = self._configuration(allow_list)
        kept_digest, kept = "", None
        first_pass: dict[str, str] = {}
        noted: dict[str, str] = {}
        newest: dict[str, dict[str, tuple[str, ...]]] = {}
        if layout.is_nightly(self.prefix):
            # Retention is decided across the whole prefix before any directory is rendered:
            # a first pass lists every directory, keeping only digests and versions, and
            # parses only directories whose listing changed since their versions were noted.
            retention = Retention(self.config.nightly_keep, allow_list)
            retention.observe(root.files, self.parser)
            for directory in directories:
                found = await self.listing(directory)
                files = found.files
                first_pass[directory] = listing_digest(files, found.subdirectories)
                del found
                # the noted versions depend on the allow list and the number kept too
                noted[directory] = _combine(configuration, first_pass[directory])
                record = manifest.directories.get(directory)
                if record is not None and record.listing == noted[directory]:
                    newest[directory] = dict(record.newest)
                    retention.include(
                        {
                            NormalizedName(project): [self.parser.version(v) for v in versions]
                            for project, versions in record.newest.items()
                        }
                    )
                else:
                    seen = retention.observe(files, self.parser)
                    newest[directory] = {p: tuple(map(str, v)) for p, v in seen.items()}
                del files
            kept = retention.kept()
            kept_digest = retention_digest(kept)
        policy = Policy(allow_list, kept)
        root_digest = _combine(
            PAGES_VERSION, configuration, kept_digest, listing_digest(root.files)
        )

        root_state = await self._state(self.prefix)
        self.root_mirrored = _mirrored(root_state)
        try:
            selection = select(root.files, self.parser, policy)
            self._count(selection.distributions, selection.hidden, selection.rejected)
            keys = await self._learn(selection.distributions, root_state)
        finally:
            if root_state.dirty:
                await self.store.save_directory(self.prefix, root_state)
        if keys is None:
            # Every page of the prefix shows the root's files: nothing can be published yet.
            self._defer([self.prefix, *directories])
            return
        root_rows = self._segments(selection.distributions, keys, root_state, None)
        root_files = len(selection.distributions)
        del selection

        built: dict[str, dict[str, Segment] | None] = {}
        """Per accelerator directory: its rows when built in this run, ``None`` when unchanged."""
        for position, directory in enumerate(directories):
            listing = None
            if directory in first_pass:
                listed = first_pass[directory]
            else:
                listing = await self.listing(directory)
                listed = listing_digest(listing.files, listing.subdirectories)
            digest = _combine(root_digest, listed)
            record = manifest.directories.get(directory)
            if record is not None and record.digest == digest:
                self.report.directories_unchanged += 1
                self.report.distributions += record.distributions
                self.report.skipped_directories.extend(record.skipped)
                built[directory] = None
                continue
            if listing is None:
                listing = await self.listing(directory, again=True)
                listed = listing_digest(listing.files, listing.subdirectories)
                digest = _combine(root_digest, listed)
            manifest.directories.pop(directory, None)
            try:
                outcome = await self._directory(
                    directory, listing, listed, policy, root_rows, root_files
                )
            except SubrequestsSpent:
                self._defer(directories[position:])
                break
            if outcome is None:
                self._defer([directory])
                continue
            built[directory] = outcome.segments
            manifest.directories[directory] = DirectoryRecord(
                digest,
                outcome.distributions,
                tuple(sorted(outcome.segments)),
                outcome.skipped,
                noted.get(directory, ""),
                newest.get(directory, {}),
            )
            self.report.skipped_directories.extend(outcome.skipped)
        for gone in set(manifest.directories) - set(directories):
            del manifest.directories[gone]

        projects = set(root_rows).union(
            *(record.projects for record in manifest.directories.values())
        )
        await self._root(
            root, directories, built, root_rows, root_files, root_digest, manifest, root_state
        )
        self._skip_root_directories(root.subdirectories, directories, projects | self.root_mirrored)

    async def _root(
        self,
        root: _Listing,
        directories: Sequence[str],
        built: Mapping[str, dict[str, Segment] | None],
        root_rows: Mapping[str, list[Segment]],
        root_files: int,
        root_digest: str,
        manifest: PrefixManifest,
        root_state: DirectoryState,
    ) -> None:
        """The prefix root's pages, once every directory is published, when anything they
        show changed (``root_state``: the prefix root's state, as loaded at the start of the
        run and saved since whenever it changed)."""
        if self.report.deferred_directories:
            return
        if not root_files and not any(r.distributions for r in manifest.directories.values()):
            self.report.status = "empty"
            return
        pages_digest = _combine(
            root_digest,
            listing_digest((), root.subdirectories),
            *(f"{d}\0{manifest.directories[d].digest}" for d in directories),
        )
        if manifest.root == pages_digest:
            return
        listed = listing_digest(root.files, root.subdirectories)
        try:
            if await self._root_pages(
                root.subdirectories, directories, built, root_rows, listed, manifest, root_state
            ):
                manifest.root = pages_digest
        except SubrequestsSpent:
            self._defer([self.prefix])

    def _configuration(self, allow_list: frozenset[NormalizedName] | None) -> str:
        return json.dumps(
            [
                self.with_hashes,
                self.config.file_base_url,
                self.file_hosts.signature,
                self.config.requires_python_overrides.rules,
                sorted(allow_list) if allow_list is not None else None,
                self.config.nightly_keep if layout.is_nightly(self.prefix) else None,
            ]
        )

    def _defer(self, directories: Iterable[str]) -> None:
        self.report.status = "deferred"
        self.report.deferred_directories.extend(directories)

    def _skip_root_directories(
        self, subdirectories: Iterable[str], accepted: Sequence[str], projects: set[str]
    ) -> None:
        """Reports the prefix root's sub-directories that are not indexed. A directory named
        after a published project is where that project's pages live (when the source bucket
        also holds pages, as PyTorch's does), not a skipped directory."""
        nested = layout.nested_names(self.prefix, self.config.prefixes)
        for path in sorted(set(subdirectories) - set(accepted)):
            name = layout.basename(path)
            if name not in nested and name not in projects:
                self.report.skipped_directories.append(path)

    def _root_candidates(self, names: Iterable[str], accepted: Sequence[str]) -> list[str]:
        """The prefix root's sub-directories that may hold an index-only page: named like a
        project's page directory, and neither an accelerator directory nor on the way to
        another configured prefix."""
        indexed = {layout.basename(path) for path in accepted}
        indexed |= layout.nested_names(self.prefix, self.config.prefixes)
        return [n for n in names if n not in indexed and layout.is_project_directory(n)]

    def _count(
        self,
        distributions: Sequence[Distribution],
        hidden: int,
        rejected: Sequence[tuple[str, str]],
    ) -> None:
        self.report.distributions += len(distributions)
        self.report.hidden += hidden
        for key, reason in rejected:
            self.report.reject(key)
            self.log("index.rejected", prefix=self.prefix, key=key, reason=reason)

    async def _state(self, directory: str) -> DirectoryState:
        state, problem = await self.store.directory(directory)
        if problem:
            self.log("index.state_discarded", directory=directory, reason=problem)
        return state

    async def _directory(
        self,
        directory: str,
        listing: _Listing,
        listed: str,
        policy: Policy,
        root_rows: Mapping[str, list[Segment]],
        root_files: int,
    ) -> _Built | None:
        """Select, learn, render and publish one accelerator directory (``listed``: its
        listing's digest); ``None`` when deferred."""
        state = await self._state(directory)
        try:
            selection = select(listing.files, self.parser, policy)
            self._count(selection.distributions, selection.hidden, selection.rejected)
            keys = await self._learn(selection.distributions, state)
            if keys is None:
                return None
            sort_key = layout.href(directory + "/", self.config.file_base_url)
            segments = {
                project: found[0]
                for project, found in self._segments(
                    selection.distributions, keys, state, sort_key
                ).items()
            }
            projects = set(segments) | set(root_rows)
            names = [layout.basename(path) for path in listing.subdirectories]
            mirrored: set[str] = set()
            if projects or names:
                published = await self._publish(
                    directory,
                    {
                        project: [*root_rows.get(project, ()), *_maybe(segments.get(project))]
                        for project in projects
                    },
                    state,
                    subdirectories=names,
                    candidates=[name for name in names if layout.is_project_directory(name)],
                    listed=listed,
                )
                if published is None:
                    return None
                mirrored = published
            shown = projects | mirrored  # a sub-directory holding a shown page is not skipped
            skipped = tuple(
                path
                for path in sorted(listing.subdirectories)
                if layout.basename(path) not in shown
            )
            await self.store.save_rows(directory, DirectoryRows(segments))
            self.report.directories_built += 1
            return _Built(segments, len(selection.distributions), skipped)
        finally:
            if state.dirty:
                await self.store.save_directory(directory, state)

    async def _root_pages(
        self,
        subdirectories: Iterable[str],
        directories: Sequence[str],
        built: Mapping[str, dict[str, Segment] | None],
        root_rows: Mapping[str, list[Segment]],
        listed: str,
        manifest: PrefixManifest,
        root_state: DirectoryState,
    ) -> bool:
        """The prefix root's pages, from every directory's rows (``listed``: the digest of the
        root's own listing; ``root_state``: the root's state, already loaded by this run).
        ``False`` (and the prefix deferred) when the budget does not allow reading the root's
        index-only pages, or when an unchanged directory's stored rows are missing (that
        directory is then forgotten, so the next run builds it again)."""
        pages: dict[str, list[Segment]] = {p: list(rows) for p, rows in root_rows.items()}
        for directory in directories:
            segments = built[directory]
            if segments is None:
                stored = await self.store.rows(directory)
                if stored is None:
                    self.log("index.rows_missing", directory=directory)
                    del manifest.directories[directory]
                    self._defer([directory])
                    return False
                segments = stored.segments
            for project, segment in segments.items():
                pages.setdefault(project, []).append(segment)
        names = [layout.basename(path) for path in subdirectories]
        try:
            mirrored = await self._publish(
                self.prefix,
                pages,
                root_state,
                subdirectories=names,
                candidates=self._root_candidates(names, directories),
                listed=listed,
            )
        finally:
            if root_state.dirty:
                await self.store.save_directory(self.prefix, root_state)
        if mirrored is None:
            self._defer([self.prefix])
            return False
        self.root_mirrored = mirrored
        return True

    # --- metadata -------------------------------------------------------------------------

    async def _learn(
        self, distributions: Sequence[Distribution], state: DirectoryState
    ) -> list[_Keys] | None:
        """Makes the state know every checksum (only where pages show them) and sidecar fact
        of ``distributions``: cached ones are kept when ETag and LastModified match, the rest
        are fetched while the budget allows. Returns each file's cache keys, or ``None`` when
        some facts are still missing: the directory is deferred. Afterwards the state forgets
        what no file asked for."""
        keys = [self._keys(dist) for dist in distributions]
        missing: list[tuple[Distribution, bytes | None, bytes | None]] = []
        for dist, (checksum_key, sidecar_key) in zip(distributions, keys, strict=True):
            needs_checksum = checksum_key is not None and not state.knows(checksum_key)
            needs_sidecar = sidecar_key is not None and not state.knows(sidecar_key)
            if needs_checksum or needs_sidecar:
                missing.append(
                    (
                        dist,
                        checksum_key if needs_checksum else None,
                        sidecar_key if needs_sidecar else None,
                    )
                )
        self.report.cache_hits += len(distributions) - len(missing)
        pending = 0
        done = 0
        work = iter(missing)

        async def worker() -> None:
            nonlocal done, pending
            for dist, checksum_key, sidecar_key in work:
                if not self.budget.allows_metadata():
                    pending += 1
                    continue
                await self._fetch(dist, checksum_key, sidecar_key, state)
                done += 1
                if done % 100 == 0 or done == len(missing):
                    self.progress(f"{self.prefix}: metadata", done, len(missing))

        await _together(worker() for _ in range(max(1, self.config.concurrency)))
        self.report.metadata_pending += pending
        state.prune()
        return None if pending else keys

    def _keys(self, dist: Distribution) -> _Keys:
        checksum = fingerprint(b"c", dist.obj) if self.with_hashes else None
        sidecar = None if dist.sidecar is None else fingerprint(b"s", dist.sidecar)
        return checksum, sidecar

    async def _fetch(
        self,
        dist: Distribution,
        checksum_key: bytes | None,
        sidecar_key: bytes | None,
        state: DirectoryState,
    ) -> None:
        """Fetches into the state what it lacks about ``dist``: the checksum when
        ``checksum_key`` is given, the sidecar's facts when ``sidecar_key`` is."""
        if checksum_key is not None:
            self.report.heads += 1
            state.remember_checksum(checksum_key, await self.source.sha256(dist.obj))
        if sidecar_key is not None and dist.sidecar is not None:
            self.report.sidecar_reads += 1
            body = await self.source.read(dist.sidecar)
            facts = SidecarFacts(hashlib.sha256(body).hexdigest(), requires_python(body))
            state.remember_sidecar(sidecar_key, facts)

    def _segments(
        self,
        distributions: Sequence[Distribution],
        keys: Sequence[_Keys],
        state: DirectoryState,
        sort_key: str | None,
    ) -> dict[str, list[Segment]]:
        """Each project's files rendered, one project at a time: one compressed segment per
        project under ``sort_key``, or (``None``, for the few root files) one uncompressed
        segment per file, which sorts by its own URL among other directories' segments."""
        by_project: dict[str, list[tuple[Distribution, _Keys]]] = {}
        for dist, found in zip(distributions, keys, strict=True):
            by_project.setdefault(dist.name.project, []).append((dist, found))
        segments: dict[str, list[Segment]] = {}
        for project, files in by_project.items():
            entries = [self._entry(dist, found, state) for dist, found in files]
            if sort_key is None:
                segments[project] = [
                    Segment.of(e.url, [e], compress=False, plain=True) for e in entries
                ]
            else:
                segments[project] = [Segment.of(sort_key, entries, plain=True)]
        return segments

    def _entry(self, dist: Distribution, keys: _Keys, state: DirectoryState) -> FileEntry:
        """``dist`` as its pages show it (its metadata is in ``state`` by now). Every field but
        Requires-Python is plain text (:func:`flaresuite.index.rows.is_plain`): file names
        are validated by their pattern, URLs percent-encoded below a checked base URL, hashes
        and times formatted here."""
        checksum_key, sidecar_key = keys
        sha256 = None if checksum_key is None else state.checksum(checksum_key)[1]
        facts = None if sidecar_key is None else state.sidecar(sidecar_key)
        name = dist.name
        override = self.config.requires_python_overrides.for_filename(name.filename)
        return FileEntry(
            filename=name.filename,
            url=layout.href(dist.obj.key, self.config.file_base_url),
            version=name.version_text,
            size=dist.obj.size,
            sha256=sha256,
            core_metadata_sha256=None if facts is None else facts.sha256,
            requires_python=override or (None if facts is None else facts.requires_python),
            upload_time=upload_time(dist.obj.modified),
        )

    # --- publishing -----------------------------------------------------------------------

    async def _publish(
        self,
        directory: str,
        projects: Mapping[str, Sequence[Segment]],
        state: DirectoryState,
        *,
        subdirectories: Sequence[str],
        candidates: Sequence[str],
        listed: str,
    ) -> set[str] | None:
        """Write a directory's project pages, then its project lists. ``subdirectories`` names
        its sub-directories, ``candidates`` those that may hold an index-only page in the
        source, and ``listed`` is the digest of the listing they come from. Returns the projects
        whose page is the source's own, or ``None``, having written nothing, when the budget
        does not allow reading those pages."""
        mirrored = await self._source_pages(directory, candidates, listed, state)
        if mirrored is None:
            return None
        if not projects and not mirrored:
            return set()
        # Sub-directories are directories, not project pages, unless they hold a project's.
        exclude = frozenset(n for n in subdirectories if n not in projects and n not in mirrored)
        stored = await self._stored_pages(directory, exclude)
        if not all(
            page.body is not None or stored.get(key) == page.md5 == state.pages.get(key)
            for key, page in ((_page_key(directory, p), page) for p, page in mirrored.items())
        ):  # a published copy went missing or was replaced: the pages are read again
            mirrored = await self._source_pages(directory, candidates, listed, state, again=True)
            if mirrored is None:
                return None
        adopt = {_page_key(directory, project): page.md5 for project, page in mirrored.items()}
        foreign = await self._foreign(directory, stored, state, adopt)
        for project in sorted(foreign | set(mirrored)):
            if project not in projects:
                self.report.index_only.append(layout.join(directory, project))
        writer = _Writer(self, stored, state)
        for project in sorted(set(projects) | set(mirrored)):
            if project in foreign:
                self.report.pages_foreign += 2 if project in projects else 1
                continue
            source_page = mirrored.get(project)
            if source_page is not None:  # published as it is, and never a page of ours
                self.report.pages_mirrored += 1
                if source_page.body is None:
                    self.report.pages_unchanged += 1
                else:
                    await writer.write(_page_key(directory, project), source_page.body, HTML)
                continue
            ordered = in_page_order(projects[project])
            base = layout.join(directory, project) + "/index"
            if sum(len(segment.blob) for segment in ordered) < LARGE_PAGE:
                html, document = project_pages(project, ordered)
                await writer.write(base + ".html", html, HTML)
                await writer.write(base + ".json", document, SIMPLE_JSON)
            else:  # one large page at a time, not both
                page = project_pages(project, ordered, json=False)[0]
                await writer.write(base + ".html", page, HTML)
                page = project_pages(project, ordered, html=False)[1]
                await writer.write(base + ".json", page, SIMPLE_JSON)
        await writer.drain()
        await self._remove_json_beside_foreign_pages(
            directory, foreign | set(mirrored), stored, state
        )
        names = set(projects) | foreign | set(mirrored)
        await writer.write(layout.join(directory, "index.html"), project_list_html(names), HTML)
        await writer.write(
            layout.join(directory, "index.json"), project_list_json(names), SIMPLE_JSON
        )
        await writer.drain()
        return set(mirrored)

    async def _source_pages(
        self,
        directory: str,
        names: Sequence[str],
        listed: str,
        state: DirectoryState,
        *,
        again: bool = False,
    ) -> dict[str, _SourcePage] | None:
        """The index-only pages the source holds in ``directory``'s sub-directories ``names``
        (those with external links), by project. They are read (one GET each, counted like
        every request) only when the directory's listing changed since they were last read,
        or ``again``; otherwise their remembered verdicts stand, without their bytes. ``None``
        when the budget does not allow the reads: nothing is remembered then."""
        read_for = _combine(listed, self.file_hosts.signature)
        if not names:
            if state.sources:
                state.remember_sources(read_for, {})
            return {}
        if not again and state.sources_read_for == read_for:
            return {name: _SourcePage(md5, None) for name, md5 in _external_sources(state).items()}
        found: dict[str, _SourcePage] = {}
        verdicts: dict[str, tuple[str, bool]] = {}
        pending = False
        work = iter(names)

        async def reader() -> None:
            nonlocal pending
            for name in work:
                if not self.budget.allows_metadata():
                    pending = True
                    return
                key = _page_key(directory, name)
                self.report.page_reads += 1
                body = await self.source.index_page(key)
                if body is None:  # a directory of other things
                    continue
                md5 = hashlib.md5(body).hexdigest()
                external = self.file_hosts.holds_external_links(body)
                verdicts[key] = (md5, external)
                if external:  # the others' bytes are not kept: they may be large
                    found[name] = _SourcePage(md5, body)

        await _together(reader() for _ in range(min(len(names), max(1, self.config.concurrency))))
        if pending:
            return None
        state.remember_sources(read_for, verdicts)
        return found

    async def _remove_json_beside_foreign_pages(
        self,
        directory: str,
        projects: Iterable[str],
        stored: Mapping[str, str],
        state: DirectoryState,
    ) -> None:
        """Deletes the JSON pages this builder wrote for ``projects``, whose HTML page is now
        someone else's: a JSON page cannot be made faithfully from a foreign HTML page, and
        one built from our files would show PEP 691 clients other files than the HTML shows.
        Without it, a front end that negotiates PEP 691 serves the HTML page (as ``flaresuite
        index serve`` does). On the main bucket a page is deleted only while its ETag is still
        ours."""
        keys = [
            key
            for project in sorted(projects)
            if (key := layout.join(directory, project) + "/index.json") in state.pages
        ]
        if not keys:
            return
        for index, bucket in enumerate(self.destinations):
            ours = [k for k in keys if index or stored.get(k) == state.pages[k]]
            for start in range(0, len(ours), MAX_DELETE_KEYS):
                await bucket.delete(ours[start : start + MAX_DELETE_KEYS])
        for key in keys:
            state.forget_page(key)
        self.report.pages_removed += len(keys)

    async def _stored_pages(self, directory: str, exclude: frozenset[str]) -> dict[str, str]:
        """The main destination's pages of ``directory`` (``D/index.*``, ``D/<project>/index.*``)
        with their ETags; ``exclude`` names sub-directories that are not project pages."""
        main = self.destinations[0]
        start = directory + "/" if directory else ""
        found: dict[str, str] = {}
        cursor: str | None = None
        while True:
            page = await main.list(prefix=start, cursor=cursor)
            for obj in page.objects:
                rest = obj.key[len(start) :]
                parts = rest.split("/")
                if len(parts) > 2 or parts[-1] not in ("index.html", "index.json"):
                    continue
                if len(parts) == 2 and parts[0] in exclude:
                    continue
                found[obj.key] = obj.etag.strip('"')
            if not page.truncated:
                return found
            cursor = page.cursor

    async def _foreign(
        self,
        directory: str,
        stored: Mapping[str, str],
        state: DirectoryState,
        adopt: Mapping[str, str],
    ) -> set[str]:
        """Projects whose page in ``directory`` someone else wrote with external links. A page
        holding the very bytes the source holds for it (``adopt``: key -> MD5) is the source's
        page, published by the reference before us: it is ours to keep current. A verdict
        holds for one ETag under one set of file hosts."""
        foreign = set()
        for key, etag in stored.items():
            parts = key[len(directory) + 1 if directory else 0 :].split("/")
            if len(parts) != 2 or parts[1] != "index.html" or state.pages.get(key) == etag:
                continue
            if adopt.get(key) == etag:
                continue
            judged = f"{etag} {self.file_hosts.signature}"
            verdict = state.verdicts.get(key)
            if verdict is None or verdict[0] != judged:
                page = await self.destinations[0].get(key)
                external = page is not None and self.file_hosts.holds_external_links(page.body)
                state.remember_verdict(key, judged, external)
                verdict = (judged, external)
            if verdict[1]:
                foreign.add(parts[0])
        return foreign

    # --- libtorch prefixes ----------------------------------------------------------------

    async def libtorch(self) -> None:
        """File listings per directory, no metadata. Sub-directories do not repeat the root's
        archives. Every directory holding any key gets its listing, an empty one included, so
        a stale listing never outlives its files; a prefix with no archive at all publishes
        nothing. Nothing below an accelerator directory is listed (``libtorch/cpu/old/``), and
        every such directory is named in the report. libtorch prefixes are small: they are
        listed whole before anything is written."""
        root = await self.listing(self.prefix)
        accepted = self.accelerator_directories(root.subdirectories)
        self._skip_root_directories(root.subdirectories, accepted, set())
        directories = [self.prefix, *accepted] if root.files else accepted
        listings: dict[str, list[str]] = {}
        digests: dict[str, str] = {}
        for directory in directories:
            if directory == self.prefix:
                files = root.files
            else:
                listing = await self.listing(directory)
                files = listing.files
                self.report.skipped_directories.extend(sorted(listing.subdirectories))
            found, rejected = select_archives(files)
            for key in rejected:
                self.report.reject(key)
                self.log("index.rejected", prefix=self.prefix, key=key, reason="archive name")
            listings[directory] = [layout.href(o.key, self.config.file_base_url) for o in found]
            digests[directory] = _combine(
                PAGES_VERSION, self.config.file_base_url, listing_digest(found)
            )
            self.report.distributions += len(found)
        if not self.report.distributions:
            self.report.status = "empty"
            return
        manifest = await self.store.manifest(self.prefix)
        changed = [d for d in directories if _recorded(manifest, d) != digests[d]]
        self.report.directories_unchanged = len([d for d in accepted if d not in changed])
        if not changed:
            return
        state = await self._state(self.prefix)
        try:
            writer = _Writer(self, await self._stored_pages(self.prefix, frozenset()), state)
            for directory in changed:
                body = libtorch_listing(listings[directory])
                await writer.write(layout.join(directory, "index.html"), body, HTML)
                await writer.drain()
                manifest.directories[directory] = DirectoryRecord(
                    digests[directory], len(listings[directory]), ()
                )
                self.report.directories_built += directory != self.prefix
        finally:
            await self.store.save_manifest(self.prefix, manifest)
            if state.dirty:
                await self.store.save_directory(self.prefix, state)


def _page_key(directory: str, project: str) -> str:
    return layout.join(directory, project) + "/index.html"


def _external_sources(state: DirectoryState) -> dict[str, str]:
    """The source's index pages beside the directory's files that hold external links, as last
    read: project -> MD5."""
    return {key.split("/")[-2]: md5 for key, (md5, external) in state.sources.items() if external}


def _mirrored(state: DirectoryState) -> set[str]:
    """Projects whose page beside the directory's files is the source's own, as last read."""
    return set(_external_sources(state))


def _recorded(manifest: PrefixManifest, directory: str) -> str | None:
    record = manifest.directories.get(directory)
    return None if record is None else record.digest


def _maybe(segment: Segment | None) -> tuple[Segment, ...]:
    return () if segment is None else (segment,)


class _Writer:
    """Writes pages to every destination, a bounded number of bytes in flight, skipping pages
    whose bytes are already there: on the main destination judged by its listed ETag, on the
    others by the MD5 this builder recorded when it last wrote them."""

    def __init__(self, build: _PrefixBuild, stored: Mapping[str, str], state: DirectoryState):
        self._build = build
        self._stored = stored
        self._state = state
        self._inflight: set[asyncio.Task[None]] = set()
        self._bytes = 0

    async def write(self, key: str, body: bytes, content_type: str) -> None:
        report = self._build.report
        md5 = hashlib.md5(body).hexdigest()
        targets = [
            bucket
            for index, bucket in enumerate(self._build.destinations)
            if (self._stored.get(key) if index == 0 else self._state.pages.get(key)) != md5
        ]
        if not targets:
            report.pages_unchanged += 1
            self._state.remember_page(key, md5)
            return
        while self._inflight and self._bytes + len(body) > INFLIGHT_BYTES:
            await self._wait_one()
        while len(self._inflight) >= self._build.config.concurrency:
            await self._wait_one()
        self._bytes += len(body)
        task = asyncio.ensure_future(self._put(key, body, content_type, md5, targets))
        self._inflight.add(task)

    async def _put(
        self, key: str, body: bytes, content_type: str, md5: str, targets: Sequence[Bucket]
    ) -> None:
        try:
            cache_control = self._build.cache_control
            await asyncio.gather(
                *(
                    bucket.put(key, body, content_type=content_type, cache_control=cache_control)
                    for bucket in targets
                )
            )
        finally:
            self._bytes -= len(body)
        self._state.remember_page(key, md5)
        self._build.report.pages_written += 1
        self._build.progress(
            f"{self._build.prefix}: writing", self._build.report.pages_written, None
        )

    async def _wait_one(self) -> None:
        done, _ = await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED)
        self._inflight -= done
        for task in done:
            task.result()

    async def drain(self) -> None:
        """Waits for every write; raises the first failure after all have settled."""
        if not self._inflight:
            return
        results = await asyncio.gather(*self._inflight, return_exceptions=True)
        self._inflight.clear()
        for result in results:
            if isinstance(result, BaseException):
                raise result


async def _together(workers: Iterable[Coroutine[object, object, None]]) -> None:
    """Runs ``workers`` concurrently. A TaskGroup cancels the others when one fails, so nothing
    keeps fetching after an error has decided the outcome; the first error is what the report
    names."""
    try:
        async with asyncio.TaskGroup() as group:
            for worker in workers:
                group.create_task(worker)
    except ExceptionGroup as failures:
        raise failures.exceptions[0] from None


LEGACY_ROOT = "_flaresuite/"
"""Where earlier versions kept their cache and report, in the public bucket."""


async def remove_legacy_state(destinations: Sequence[Bucket]) -> int:
    """Deletes what earlier versions kept in the public buckets (``_flaresuite/index-cache/``
    and ``_flaresuite/index-status.json``); returns how many objects were removed."""
    removed = 0
    for bucket in destinations:
        while True:
            page = await bucket.list(prefix=LEGACY_ROOT)
            keys = [obj.key for obj in page.objects]
            if keys:
                await bucket.delete(keys)
                removed += len(keys)
            if not page.truncated or not keys:
                break
    return removed
