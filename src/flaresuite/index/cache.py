"""The metadata cache: what HEAD and sidecar reads learnt, keyed by (key, ETag).

An object whose ETag is unchanged has unchanged bytes, so its checksum and sidecar facts can be
reused; steady-state hourly runs then HEAD only new or replaced objects. The cache is one gzip
JSON object per prefix, stored in the main destination bucket beside the pages, and is pruned
to the keys of the latest listing so it never outgrows the source.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from flaresuite.ports import Bucket

FORMAT = 1
CACHE_ROOT = "_flaresuite/index-cache/"


@dataclass(frozen=True, slots=True)
class SidecarFacts:
    sha256: str
    requires_python: str | None


@dataclass(slots=True)
class MetadataCache:
    checksums: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    """object key -> (ETag, hex sha256 or ``None`` when the source has none)."""
    sidecars: dict[str, tuple[str, SidecarFacts]] = field(default_factory=dict)
    """sidecar key -> (ETag, facts)."""
    dirty: bool = False

    def checksum(self, key: str, etag: str) -> tuple[bool, str | None]:
        """``(found, sha256)``; a cached ``None`` is a real answer: the object has none."""
        entry = self.checksums.get(key)
        if entry is None or entry[0] != etag:
            return False, None
        return True, entry[1]

    def remember_checksum(self, key: str, etag: str, sha256: str | None) -> None:
        self.checksums[key] = (etag, sha256)
        self.dirty = True

    def sidecar(self, key: str, etag: str) -> SidecarFacts | None:
        entry = self.sidecars.get(key)
        return entry[1] if entry is not None and entry[0] == etag else None

    def remember_sidecar(self, key: str, etag: str, facts: SidecarFacts) -> None:
        self.sidecars[key] = (etag, facts)
        self.dirty = True

    def prune(self, live_keys: Iterable[str]) -> None:
        live = set(live_keys)
        for table in (self.checksums, self.sidecars):
            for key in [k for k in table if k not in live]:
                del table[key]
                self.dirty = True

    def to_bytes(self) -> bytes:
        document = {
            "format": FORMAT,
            "checksums": {k: [etag, sha] for k, (etag, sha) in self.checksums.items()},
            "sidecars": {
                k: [etag, facts.sha256, facts.requires_python]
                for k, (etag, facts) in self.sidecars.items()
            },
        }
        # mtime=0: the same cache gives the same bytes, so an unchanged cache is not rewritten.
        return gzip.compress(json.dumps(document, separators=(",", ":")).encode(), mtime=0)

    @classmethod
    def from_bytes(cls, data: bytes) -> MetadataCache:
        """Raises ``ValueError`` for anything that is not a cache of this format."""
        try:
            document = json.loads(gzip.decompress(data))
        except (OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"unreadable metadata cache: {error}") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError("metadata cache has an unknown format")
        try:
            return cls(
                checksums={k: (etag, sha) for k, (etag, sha) in document["checksums"].items()},
                sidecars={
                    k: (etag, SidecarFacts(sha256=sha, requires_python=rp))
                    for k, (etag, sha, rp) in document["sidecars"].items()
                },
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"metadata cache is malformed: {error}") from None


def cache_key(prefix: str) -> str:
    return f"{CACHE_ROOT}{prefix}.json.gz"


async def load_cache(bucket: Bucket, prefix: str) -> tuple[MetadataCache, str | None]:
    """The stored cache, or an empty one and the reason the stored one could not be used."""
    stored = await bucket.get(cache_key(prefix))
    if stored is None:
        return MetadataCache(), None
    try:
        return MetadataCache.from_bytes(stored.body), None
    except ValueError as error:
        return MetadataCache(), str(error)


async def save_cache(bucket: Bucket, prefix: str, cache: MetadataCache) -> None:
    await bucket.put(
        cache_key(prefix),
        cache.to_bytes(),
        content_type="application/gzip",
        cache_control="no-store",
    )
    cache.dirty = False
