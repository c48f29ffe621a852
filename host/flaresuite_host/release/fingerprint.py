"""A bundle's identity (sha256, size) and Cloudflare's limit on its size."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flaresuite_host.release.errors import ReleaseSetupError

MAX_BUNDLE_BYTES = 10 * 1024 * 1024
"""Cloudflare refuses a Worker whose compressed upload exceeds 10 MB on the paid plan
(https://developers.cloudflare.com/workers/platform/limits/#worker-size)."""


@dataclass(frozen=True, slots=True)
class Fingerprint:
    sha256: str
    """Lower-case hex digest of the archive's bytes: the ConfigMap's ``content-hash``."""
    size: int
    """Bytes: the ConfigMap's ``size-bytes``."""


def fingerprint(data: bytes) -> Fingerprint:
    return Fingerprint(sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def check_size(bundle: Fingerprint, what: str) -> None:
    """Refuses a bundle Cloudflare would refuse, before anyone uploads or deploys it."""
    if bundle.size > MAX_BUNDLE_BYTES:
        raise ReleaseSetupError(
            f"{what} is {bundle.size} bytes, over Cloudflare's Worker size limit of 10 MB "
            f"({MAX_BUNDLE_BYTES} bytes); drop dependencies or split the Worker"
        )
