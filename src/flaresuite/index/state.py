"""Run state: what earlier runs learnt, kept in a private bucket (``INDEX_STATE``), never beside
the public pages.

Per directory (a prefix root or an accelerator directory), two objects:

* ``index/<dir>/@dir.json.gz`` (:class:`DirectoryState`): the metadata cache (checksums and
  sidecar facts, found by a digest of key, ETag and LastModified), the MD5 of every page this
  builder wrote there, verdicts on pages someone else wrote, and the MD5 and verdict of each
  index page the source holds beside the directory's files, with the digest of the listing
  they were read for (the digest its pages were published for is the prefix manifest's);
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
import hashlib
import json
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flaresuite.index.model import SourceObject
from flaresuite.index.rows import Segment
from flaresuite.ports import Bucket

FORMAT = 3
"""Version 1 was the per-prefix ``_flaresuite/index-cache`` object in the public bucket."""
STATE_CONTENT_TYPE = "application/gzip"


@dataclass(frozen=True, slots=True)
class SidecarFacts:
    sha256: str
    requires_python: str | None


FINGERPRINT_BYTES = 12
"""A cache entry is found by a BLAKE2b digest of (kind, key, ETag, LastModified): 96 bits make a
collision among a bucket's few million entries a one-in-10^16 event, and keep each entry at a
few dozen bytes instead of four strings."""


def fingerprint(kind: bytes, obj: SourceObject) -> bytes:
    text = f"{obj.key}\0{obj.etag}\0{obj.modified}".encode()
    return hashlib.blake2b(kind + text, digest_size=FINGERPRINT_BYTES).digest()


@dataclass(slots=True)
class DirectoryState:
    metadata: dict[bytes, bytes] = field(default_factory=dict)
    """The metadata cache: fingerprint -> what was learnt. A checksum is its raw 32 bytes
    (empty: the object has none); sidecar facts are the raw sha256 of the sidecar followed by
    its Requires-Python in UTF-8."""
    pages: dict[str, str] = field(default_factory=dict)
    """page key -> MD5 of the body this builder last wrote there."""
    verdicts: dict[str, tuple[str, bool]] = field(default_factory=dict)
    """page key -> (``"<ETag> <file hosts' signature>"``, holds external links) for pages this
    builder did not write: a verdict stands for one ETag under one set of file hosts."""
    sources: dict[str, tuple[str, bool]] = field(default_factory=dict)
    """page key -> (MD5, holds external links) of the index pages the source holds beside
    this directory's files (``<dir>/<project>/index.html``), as last read. The MD5 is also the
    ETag R2 gives the published copy, so the main bucket's listing tells whether that copy
    is still in place without reading it."""
    sources_read_for: str | None = None
    """Digest of the directory listing (and configuration) :attr:`sources` was read for."""
    dirty: bool = False
    _used: dict[bytes, bytes] = field(default_factory=dict)
    """Entries asked for in this run, moved out of :attr:`metadata` as they are: the two never
    hold one entry twice, and what is left behind when the run ends is stale."""

    def _lookup(self, key: bytes) -> bytes | None:
        value = self._used.get(key)
        if value is None:
            value = self.metadata.pop(key, None)
            if value is not None:
                self._used[key] = value
        return value

    def knows(self, key: bytes) -> bool:
        """Whether an entry (either kind) is cached; it then counts as used by this run."""
        return self._lookup(key) is not None

    def checksum(self, key: bytes) -> tuple[bool, str | None]:
        """``(found, sha256)`` for a checksum's :func:`fingerprint` (kind ``b"c"``); a cached
        ``None`` is a real answer: the object has none."""
        value = self._lookup(key)
        if value is None:
            return False, None
        return True, value.hex() or None

    def remember_checksum(self, key: bytes, sha256: str | None) -> None:
        self._used[key] = bytes.fromhex(sha256) if sha256 else b""
        self.dirty = True

    def sidecar(self, key: bytes) -> SidecarFacts | None:
        """The facts of a sidecar by its :func:`fingerprint` (kind ``b"s"``)."""
        value = self._lookup(key)
        if value is None:
            return None
        return SidecarFacts(value[:32].hex(), value[32:].decode() or None)

    def remember_sidecar(self, key: bytes, facts: SidecarFacts) -> None:
        requires_python = (facts.requires_python or "").encode()[:MAX_REQUIRES_PYTHON]
        self._used[key] = bytes.fromhex(facts.sha256) + requires_python
        self.dirty = True

    def remember_page(self, key: str, md5: str) -> None:
        if self.pages.get(key) != md5:
            self.pages[key] = md5
            self.dirty = True

    def remember_verdict(self, key: str, judged: str, foreign: bool) -> None:
        self.verdicts[key] = (judged, foreign)
        self.dirty = True

    def forget_page(self, key: str) -> None:
        if self.pages.pop(key, None) is not None:
            self.dirty = True

    def remember_sources(self, read_for: str, sources: Mapping[str, tuple[str, bool]]) -> None:
        """The source's index pages beside this directory, all read for ``read_for``."""
        self.sources = dict(sources)
        self.sources_read_for = read_for
        self.dirty = True

    def prune(self) -> None:
        """Forget what no lookup of this run asked for (files gone, replaced or hidden), so the
        cache never outgrows the source."""
        self.dirty = self.dirty or bool(self.metadata)
        self.metadata, self._used = self._used, {}

    def to_bytes(self) -> bytes:
        header = json.dumps(
            {
                "format": FORMAT,
                "pages": self.pages,
                "verdicts": {k: list(v) for k, v in self.verdicts.items()},
                "sources": {k: list(v) for k, v in self.sources.items()},
                "sources_read_for": self.sources_read_for,
            },
            separators=(",", ":"),
        ).encode()
        parts = [struct.pack(">I", len(header)), header]
        for table in (self.metadata, self._used):
            for key, value in table.items():
                parts += (key, struct.pack(">H", len(value)), value)
        return gzip.compress(b"".join(parts), compresslevel=1, mtime=0)

    @classmethod
    def from_bytes(cls, data: bytes) -> DirectoryState:
        """Raises ``ValueError`` for anything that is not state of this format."""
        try:
            raw = gzip.decompress(data)
            (length,) = struct.unpack_from(">I", raw)
            document = json.loads(raw[4 : 4 + length])
            if not isinstance(document, dict) or document.get("format") != FORMAT:
                raise ValueError("state object has an unknown format")
            # State written before this field went still holds a "digest" (never set, always
            # null: a directory's digest is its DirectoryRecord's); it is ignored.
            state = cls(
                pages=dict(document["pages"]),
                verdicts={k: (e, bool(f)) for k, (e, f) in document["verdicts"].items()},
                # absent from state written before sources were read: read them then
                sources={k: (m, bool(f)) for k, (m, f) in document.get("sources", {}).items()},
                sources_read_for=document.get("sources_read_for"),
            )
            view, at = memoryview(raw), 4 + length
            while at < len(raw):
                key = bytes(view[at : at + FINGERPRINT_BYTES])
                (size,) = struct.unpack_from(">H", raw, at + FINGERPRINT_BYTES)
                start = at + FINGERPRINT_BYTES + 2
                if start + size > len(raw):
                    raise ValueError("directory state is truncated")
                state.metadata[key] = bytes(view[start : start + size])
                at = start + size
        except (OSError, EOFError, zlib.error, struct.error, UnicodeDecodeError) as error:
            raise ValueError(f"unreadable directory state: {error}") from None
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"directory state is malformed: {error}") from None
        return state


MAX_REQUIRES_PYTHON = 1024
"""Longest Requires-Python cached; no real specifier set comes near it."""


@dataclass(slots=True)
class DirectoryRows:
    """A directory's own files, rendered, per project."""

    segments: dict[str, Segment] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        # The rows are compressed already: the document itself is not.
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
            },
            compress=False,
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
    listing: str = ""
    """Digest of its own listing alone."""
    newest: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Nightly only: its newest ``keep`` public versions per project, so retention needs no
    parsing of a directory whose listing is unchanged."""


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
                    path: [
                        r.digest,
                        r.distributions,
                        list(r.projects),
                        list(r.skipped),
                        r.listing,
                        {project: list(versions) for project, versions in r.newest.items()},
                    ]
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
                str(path): DirectoryRecord(
                    str(d),
                    int(n),
                    tuple(projects),
                    tuple(skipped),
                    str(listing),
                    {str(p): tuple(map(str, v)) for p, v in newest.items()},
                )
                for path, (d, n, projects, skipped, listing, newest) in document[
                    "directories"
                ].items()
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


def _pack(document: Mapping[str, object], *, compress: bool = True) -> bytes:
    text = json.dumps(document, separators=(",", ":")).encode()
    # The fastest level: state is read and written every run, and storage is cheap.
    return gzip.compress(text, compresslevel=1, mtime=0) if compress else text


def _unpack(data: bytes) -> dict[str, Any]:
    try:
        document = json.loads(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"unreadable state object: {error}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError("state object has an unknown format")
    return document
