"""What the S3 client returns: listed objects and object heads."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

_MULTIPART_ETAG = re.compile(r".+-[0-9]+")


@dataclass(frozen=True, slots=True)
class S3Object:
    """One ``Contents`` entry of a ListObjectsV2 page."""

    key: str
    size: int
    etag: str
    """The entity tag without its surrounding quotes, as in :attr:`ObjectHead.etag`."""
    last_modified: datetime
    """Timezone-aware, UTC."""


@dataclass(frozen=True, slots=True)
class CommonPrefix:
    """One ``CommonPrefixes`` entry of a delimited listing: a sub-directory, ending in the
    delimiter (``whl/cu126/``)."""

    prefix: str


@dataclass(frozen=True, slots=True)
class ObjectHead:
    """What HeadObject tells about an object without transferring it."""

    content_length: int
    etag: str
    """The entity tag without its surrounding quotes."""
    last_modified: datetime | None
    """Timezone-aware, UTC; ``None`` if the service sent no parsable ``Last-Modified``."""
    checksum_sha256: str | None = None
    """``x-amz-checksum-sha256`` exactly as sent: base64 of the object's sha256, or, for a
    multipart upload, a composite ``<base64>-<parts>`` that is not the object's digest."""
    metadata: Mapping[str, str] = field(default_factory=dict)
    """User metadata: ``x-amz-meta-*`` headers, names lower case without the prefix."""
    content_type: str | None = None

    @property
    def is_multipart(self) -> bool:
        """Whether the object was assembled by a multipart upload, which S3 marks with an
        ETag of the form ``<md5 of part md5s>-<parts>``.

        A SHA256 checksum of such an object is always a composite of its parts' checksums
        on S3 (full-object checksums of multipart uploads exist only for the CRC
        algorithms), even where a service forgets the ``-<parts>`` suffix on HEAD, as moto
        5.2 does.
        """
        return _MULTIPART_ETAG.fullmatch(self.etag) is not None
