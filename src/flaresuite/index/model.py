"""The values the index builder passes between listing, metadata and rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

from flaresuite.index.names import DistributionName


@dataclass(frozen=True, slots=True)
class SourceObject:
    """One key of a source listing (ListObjectsV2 ``Contents``, or a file on disk)."""

    key: str
    size: int
    etag: str
    last_modified: datetime | None = None
    """Timezone-aware UTC. Copying an object onto itself (how PyTorch adds a checksum later)
    keeps the ETag and changes this, so caches compare both."""
    modified: str = field(init=False, repr=False, compare=False)
    """``last_modified`` in ISO 8601 (``""`` when unknown), formatted once: caches, digests and
    upload times all compare or show it."""

    def __post_init__(self) -> None:
        when = self.last_modified
        if when is not None and when.utcoffset():
            when = when.astimezone(UTC)
        object.__setattr__(self, "modified", "" if when is None else when.isoformat())


@dataclass(frozen=True, slots=True)
class Subdirectory:
    """A sub-directory of a listed directory (a ``CommonPrefixes`` entry): its full path,
    without the trailing slash."""

    path: str


class Distribution(NamedTuple):
    """A distribution file selected for publication (one per file: a named tuple is the
    cheapest immutable value to build)."""

    obj: SourceObject
    name: DistributionName
    sidecar: SourceObject | None = None
