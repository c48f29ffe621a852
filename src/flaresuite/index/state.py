"""Run state: what earlier runs learnt, kept in a private bucket (``INDEX_STATE``), never beside
the public pages.

Per directory (a prefix root or an accelerator directory), two objects:

* ``index/<dir>/@dir.json.gz`` (:class:`DirectoryState`): the metadata cache (checksums keyed by
  file, ETag and LastModified; sidecar facts likewise), the MD5 of every page this builder
  wrote there, verdicts on pages someone else wrote, and the digest of the listing its pages
  were last published for;
* ``index/<dir>/@rows.json.gz`` (:class:`DirectoryRows`): the directory's rendered rows per
  project, from which the prefix root page is assembled without listing or rendering the
  directory again.

Per prefix, ``index/<prefix>/@prefix.json.gz`` (:class:`PrefixManifest`) holds each directory's
digest, so a run finds unchanged directories without loading anything else, and the digest the
root pages were published for. Run reports live under ``status/``.

A cache entry is trusted only while the object's ETag *and* LastModified are unchanged:
PyTorch adds ``x-amz-meta-checksum-sha256`` by copying an object onto itself, which keeps the
ETag and moves LastModified. Objects are gzip JSON written with ``mtime=0``, so unchanged state
gives unchanged bytes.
"""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flaresuite.index.rows import Segment
from flaresuite.ports import Bucket

FORMAT = 2
"""Version 1 was the per-prefix ``_flaresuite/index-cache`` object in the public bucket."""
STATE_CONTENT_TYPE = "application/gzip"


def stamp(when: datetime | None) -> str:
    """LastModified as cached: ISO 8601, ``""`` when the source has none."""
    return "" if when is None else when.isoformat()


@dataclass(frozen=True, slots=True)
class SidecarFacts:
    sha256: str
    requires_python: str | None


@dataclass(slots=True)
class DirectoryState:
    digest: str | None = None
    """Digest of the inputs this directory's pages were last published for."""
    checksums: dict[str, tuple[str, str, str | None]] = field(default_factory=dict)
    """file name -> (ETag, LastModified, hex sha256 or ``None`` when the source has none)."""
    sidecars: dict[str, tuple[str, str, SidecarFacts]] = field(default_factory=dict)
    """sidecar file name -> (ETag, LastModified, facts)."""
    pages: dict[str, str] = field(default_factory=dict)
    """page key -> MD5 of the body this builder last wrote there."""
    verdicts: dict[str, tuple[str, bool]] = field(default_factory=dict)
    """page key -> (ETag, holds external links) for pages this builder did not write."""
    dirty: bool = False

    def checksum(self, name: str, etag: str, modified: str) -> tuple[bool, str | None]:
        """``(found, sha256)``; a cached ``None`` is a real answer: the object has none."""
        entry = self.checksums.get(name)
        if entry is None or entry[0] != etag or entry[1] != modified:
            return False, None
        return True, entry[2]

    def remember_checksum(self, name: str, etag: str, modified: str, sha256: str | None) -> None:
        self.checksums[name] = (etag, modified, sha256)
        self.dirty = True

    def sidecar(self, name: str, etag: str, modified: str) -> SidecarFacts | None:
        entry = self.sidecars.get(name)
        if entry is None or entry[0] != etag or entry[1] != modified:
            return None
        return entry[2]

    def remember_sidecar(self, name: str, etag: str, modified: str, facts: SidecarFacts) -> None:
        self.sidecars[name] = (etag, modified, facts)
        self.dirty = True

    def remember_page(self, key: str, md5: str) -> None:
        if self.pages.get(key) != md5:
            self.pages[key] = md5
            self.dirty = True

    def remember_verdict(self, key: str, etag: str, foreign: bool) -> None:
        self.verdicts[key] = (etag, foreign)
        self.dirty = True

    def prune(self, live_names: Iterable[str]) -> None:
        """Forget files no longer listed, so the cache never outgrows the source."""
        live = set(live_names)
        for table in (self.checksums, self.sidecars):
            for name in [n for n in table if n not in live]:
                del table[name]
                self.dirty = True

    def to_bytes(self) -> bytes:
        return _pack(
            {
                "format": FORMAT,
                "digest": self.digest,
                "checksums": {k: list(v) for k, v in self.checksums.items()},
                "sidecars": {
                    k: [etag, modified, facts.sha256, facts.requires_python]
                    for k, (etag, modified, facts) in self.sidecars.items()
                },
                "pages": self.pages,
                "verdicts": {k: list(v) for k, v in self.verdicts.items()},
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> DirectoryState:
        """Raises ``ValueError`` for anything that is not state of this format."""
        document = _unpack(data)
        try:
            return cls(
                digest=document["digest"],
                checksums={k: (e, m, s) for k, (e, m, s) in document["checksums"].items()},
                sidecars={
                    k: (e, m, SidecarFacts(sha, rp))
                    for k, (e, m, sha, rp) in document["sidecars"].items()
                },
                pages=dict(document["pages"]),
                verdicts={k: (e, bool(f)) for k, (e, f) in document["verdicts"].items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"directory state is malformed: {error}") from None


@dataclass(slots=True)
class DirectoryRows:
    """A directory's own files, rendered, per project."""

    segments: dict[str, Segment] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return _pack(
            {
                "format": FORMAT,
                "projects": {
                    project: [
                        segment.sort_key,
                        sorted(segment.versions),
                        base64.b64encode(segment.blob).decode("ascii"),
                    ]
                    for project, segment in self.segments.items()
                },
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> DirectoryRows:
        document = _unpack(data)
        try:
            return cls(
                segments={
                    project: Segment(key, frozenset(versions), base64.b64decode(blob))
                    for project, (key, versions, blob) in document["projects"].items()
                },
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"directory rows are malformed: {error}") from None


@dataclass(frozen=True, slots=True)
class DirectoryRecord:
    """What a prefix remembers of one accelerator directory between runs."""

    digest: str
    """Digest of the inputs its pages were published for."""
    distributions: int
    projects: tuple[str, ...]
    skipped: tuple[str, ...] = ()
    """Its own sub-directories that were not indexed."""


@dataclass(slots=True)
class PrefixManifest:
    directories: dict[str, DirectoryRecord] = field(default_factory=dict)
    root: str | None = None
    """Digest the prefix root's pages were published for."""

    def to_bytes(self) -> bytes:
        return _pack(
            {
                "format": FORMAT,
                "directories": {
                    path: [r.digest, r.distributions, list(r.projects), list(r.skipped)]
                    for path, r in self.directories.items()
                },
                "root": self.root,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> PrefixManifest:
        document = _unpack(data)
        try:
            directories = {
                str(path): DirectoryRecord(str(d), int(n), tuple(projects), tuple(skipped))
                for path, (d, n, projects, skipped) in document["directories"].items()
            }
            root = document["root"]
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"prefix manifest is malformed: {error}") from None
        return cls(directories, root if isinstance(root, str) else None)


class StateStore:
    """The private state bucket, laid out as the module docstring says."""

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket

    async def directory(self, directory: str) -> tuple[DirectoryState, str | None]:
        """The stored state, or an empty one and why the stored one could not be used."""
        stored = await self.bucket.get(_path(directory, "@dir.json.gz"))
        if stored is None:
            return DirectoryState(), None
        try:
            return DirectoryState.from_bytes(stored.body), None
        except ValueError as error:
            return DirectoryState(), str(error)

    async def save_directory(self, directory: str, state: DirectoryState) -> None:
        await self._put(_path(directory, "@dir.json.gz"), state.to_bytes())
        state.dirty = False

    async def rows(self, directory: str) -> DirectoryRows | None:
        """``None`` when missing or unreadable: the directory is then built again."""
        stored = await self.bucket.get(_path(directory, "@rows.json.gz"))
        if stored is None:
            return None
        try:
            return DirectoryRows.from_bytes(stored.body)
        except ValueError:
            return None

    async def save_rows(self, directory: str, rows: DirectoryRows) -> None:
        await self._put(_path(directory, "@rows.json.gz"), rows.to_bytes())

    async def manifest(self, prefix: str) -> PrefixManifest:
        stored = await self.bucket.get(_path(prefix, "@prefix.json.gz"))
        if stored is None:
            return PrefixManifest()
        try:
            return PrefixManifest.from_bytes(stored.body)
        except ValueError:
            return PrefixManifest()

    async def save_manifest(self, prefix: str, manifest: PrefixManifest) -> None:
        await self._put(_path(prefix, "@prefix.json.gz"), manifest.to_bytes())

    async def save_report(self, prefix: str, report: Mapping[str, object]) -> None:
        await self._put_json(_status_key(prefix), report)

    async def report(self, prefix: str) -> dict[str, Any] | None:
        return await self._get_json(_status_key(prefix))

    async def save_run(self, run: Mapping[str, object]) -> None:
        """The run's own record: when it started, which prefixes it covers (their reports
        are stored one by one, by whichever invocation built them)."""
        await self._put_json(RUN_KEY, run)

    async def run(self) -> dict[str, Any] | None:
        return await self._get_json(RUN_KEY)

    async def _put(self, key: str, body: bytes) -> None:
        await self.bucket.put(key, body, content_type=STATE_CONTENT_TYPE, cache_control="no-store")

    async def _put_json(self, key: str, document: Mapping[str, object]) -> None:
        body = json.dumps(document, separators=(",", ":")).encode()
        await self.bucket.put(key, body, content_type="application/json", cache_control="no-store")

    async def _get_json(self, key: str) -> dict[str, Any] | None:
        """A stored report, or ``None`` when missing or unreadable."""
        stored = await self.bucket.get(key)
        if stored is None:
            return None
        try:
            document = json.loads(stored.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        return document if isinstance(document, dict) else None


RUN_KEY = "status/@run.json"


def _status_key(prefix: str) -> str:
    return f"status/{prefix or '@root'}.json"


def _path(directory: str, name: str) -> str:
    return f"index/{directory}/{name}" if directory else f"index/{name}"


def _pack(document: Mapping[str, object]) -> bytes:
    return gzip.compress(json.dumps(document, separators=(",", ":")).encode(), mtime=0)


def _unpack(data: bytes) -> dict[str, Any]:
    try:
        document = json.loads(gzip.decompress(data))
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"unreadable state object: {error}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError("state object has an unknown format")
    return document
