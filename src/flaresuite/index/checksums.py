"""Which sha256 a page may promise for a file, from its S3 ``HeadObject`` response.

Order, as PyTorch's generator settled on after users hit hash mismatches (pytorch#145501):

1. the native ``ChecksumSHA256`` (base64, returned with ``x-amz-checksum-mode: ENABLED``),
   unless it is a multipart composite (``<base64>-<parts>``), which is a checksum of part
   checksums, not of the file. An object whose ETag says it was uploaded in parts is treated
   the same way even without the suffix: S3 only keeps composite SHA256s for such objects,
   and moto omits the suffix on HEAD;
2. else the ``x-amz-meta-checksum-sha256`` user metadata (hex) that CI uploads attach;
3. else nothing: a page without ``#sha256=`` is better than a wrong one.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping

MULTIPART_COMPOSITE = re.compile(r"[A-Za-z0-9+/=]+-[0-9]+")
HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
METADATA_KEY = "checksum-sha256"
"""User metadata name without the ``x-amz-meta-`` prefix."""


def sha256_from_head(
    checksum_sha256: str | None, metadata: Mapping[str, str], *, multipart: bool = False
) -> str | None:
    """Hex sha256 of the object, or ``None``; malformed values are never trusted."""
    native_is_composite = multipart or (
        checksum_sha256 is not None and MULTIPART_COMPOSITE.fullmatch(checksum_sha256)
    )
    if checksum_sha256 and not native_is_composite:
        try:
            digest = base64.b64decode(checksum_sha256, validate=True)
        except (binascii.Error, ValueError):
            digest = b""
        if len(digest) == 32:
            return digest.hex()
    declared = metadata.get(METADATA_KEY, "").strip()
    if HEX_SHA256.fullmatch(declared):
        return declared.lower()
    return None
