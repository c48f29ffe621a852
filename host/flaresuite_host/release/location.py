"""Where a bundle lives in R2: a bucket and an object key, checked before any request."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flaresuite_host.release.errors import ReleaseSetupError

BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
"""S3 bucket naming rules (3 to 63 lower-case letters, digits, dots and hyphens, starting
and ending with a letter or digit), which R2 also enforces:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html"""

MAX_KEY_BYTES = 1024
"""S3 and R2 object keys are at most 1024 bytes of UTF-8."""


@dataclass(frozen=True, slots=True)
class ArtifactLocation:
    bucket: str
    key: str

    def __post_init__(self) -> None:
        if not BUCKET_NAME.match(self.bucket) or ".." in self.bucket:
            raise ReleaseSetupError(
                f"invalid bucket name {self.bucket!r}: 3 to 63 lower-case letters, digits, "
                "'.' and '-', starting and ending with a letter or digit"
            )
        try:
            size = len(self.key.encode("utf-8"))
        except UnicodeEncodeError:  # lone surrogates: undecodable bytes in a command line
            size = 0
        if not 0 < size <= MAX_KEY_BYTES or self.key.startswith("/"):
            raise ReleaseSetupError(
                f"invalid object key {self.key!r}: 1 to {MAX_KEY_BYTES} bytes of UTF-8, "
                "not starting with '/'"
            )
