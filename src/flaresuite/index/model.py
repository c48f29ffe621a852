"""The values the index builder passes between listing, metadata and rendering."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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


@dataclass(frozen=True, slots=True)
class Subdirectory:
    """A sub-directory of a listed directory (a ``CommonPrefixes`` entry): its full path,
    without the trailing slash."""

    path: str


@dataclass(frozen=True, slots=True)
class FileMetadata:
    """What a page says about a file beyond its name: learnt from HEAD and the PEP 658 sidecar."""

    sha256: str | None = None
    """Hex digest of the file, or ``None`` when the source has no trustworthy checksum."""
    core_metadata_sha256: str | None = None
    """Hex digest of the ``.metadata`` sidecar (PEP 658/714), ``None`` when there is none."""
    requires_python: str | None = None
    """The sidecar's ``Requires-Python`` (PEP 345 / core metadata 1.2), served as
    ``data-requires-python`` (PEP 503) and ``requires-python`` (PEP 691)."""


NO_METADATA = FileMetadata()


@dataclass(frozen=True, slots=True)
class Distribution:
    """A distribution file selected for publication."""

    obj: SourceObject
    name: DistributionName
    sidecar: SourceObject | None = None
