"""``flaresuite release upload``: put a bundle into R2 over the S3 API and check it arrived.

R2 speaks the S3 API at ``https://<account>.r2.cloudflarestorage.com`` with region ``auto``
(https://developers.cloudflare.com/r2/api/s3/api/). The suite's own SigV4 client
(:mod:`flaresuite.s3`) does the transfer: one PutObject with ``Content-MD5`` and
``x-amz-checksum-sha256`` up to the part size, a multipart upload with ``Content-MD5`` on every
part above it, retries with backoff, and an aborted upload on failure. Every object also
carries its sha256 as ``x-amz-meta-checksum-sha256`` (hex), the convention the index builder
reads, because a multipart object has no whole-object checksum of its own. A HEAD afterwards
confirms the size, and that every sha256 S3 reports (its own checksum of a single PUT, and the
metadata) is the bundle's.

Credentials are those of the rest of the suite (``S3_ACCESS_KEY_ID`` and
``S3_SECRET_ACCESS_KEY``), or the files ``access-key-id`` and ``secret-access-key`` of a
mounted Kubernetes Secret, as the design note's ``r2-credentials`` Secret provides them.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from flaresuite.s3.client import Progress, S3Client
from flaresuite.s3.credentials import ACCESS_KEY_ID, SECRET_ACCESS_KEY, Credentials
from flaresuite.s3.model import ObjectHead
from flaresuite_host.release.errors import ReleaseError, ReleaseSetupError
from flaresuite_host.release.fingerprint import Fingerprint
from flaresuite_host.release.location import ArtifactLocation

ACCESS_KEY_ID_FILE = "access-key-id"
SECRET_ACCESS_KEY_FILE = "secret-access-key"
BUNDLE_CONTENT_TYPE = "application/gzip"
CHECKSUM_METADATA = "checksum-sha256"
"""User metadata name (``x-amz-meta-`` is added on the wire); the value is hex."""


def load_credentials(env: Mapping[str, str], secret_dir: Path | None) -> Credentials:
    """The key pair from ``secret_dir`` when given, else from the environment.

    An upload cannot be anonymous, so having neither is an error, and so is half a pair.
    """
    if secret_dir is not None:
        return _credentials_from_directory(secret_dir)
    credentials = Credentials.from_env(env)
    if credentials is None:
        raise ReleaseSetupError(
            f"no credentials: set {ACCESS_KEY_ID} and {SECRET_ACCESS_KEY}, or pass "
            f"--credentials-dir DIR holding the files {ACCESS_KEY_ID_FILE} and "
            f"{SECRET_ACCESS_KEY_FILE}"
        )
    return credentials


def _credentials_from_directory(secret_dir: Path) -> Credentials:
    if not secret_dir.is_dir():
        raise ReleaseSetupError(f"credentials directory {secret_dir} not found")
    values = {}
    for name in (ACCESS_KEY_ID_FILE, SECRET_ACCESS_KEY_FILE):
        try:
            # A Secret created from files often ends each value with a newline.
            values[name] = (secret_dir / name).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            values[name] = ""
        except (OSError, UnicodeDecodeError) as error:
            raise ReleaseSetupError(f"cannot read {secret_dir / name}: {error}") from None
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise ReleaseSetupError(
            f"credentials directory {secret_dir} needs non-empty files {ACCESS_KEY_ID_FILE} "
            f"and {SECRET_ACCESS_KEY_FILE}; missing or empty: {', '.join(missing)}"
        )
    return Credentials(values[ACCESS_KEY_ID_FILE], values[SECRET_ACCESS_KEY_FILE])


@dataclass(frozen=True, slots=True)
class UploadResult:
    url: str
    etag: str
    multipart: bool


async def upload_bundle(
    client: S3Client,
    location: ArtifactLocation,
    data: bytes,
    bundle: Fingerprint,
    *,
    part_size: int,
    on_progress: Progress | None = None,
) -> UploadResult:
    """Uploads ``data`` (whose fingerprint is ``bundle``) to ``location`` and verifies it
    with a HEAD; ``on_progress(bytes_sent, bytes_total)`` follows the transfer."""
    etag = await client.upload(
        location.bucket,
        location.key,
        data,
        part_size=part_size,
        content_type=BUNDLE_CONTENT_TYPE,
        metadata={CHECKSUM_METADATA: bundle.sha256},
        on_progress=on_progress,
    )
    head = await client.head_object(location.bucket, location.key)
    where = f"s3://{location.bucket}/{location.key}"
    if head is None:
        raise ReleaseError(f"{where} is missing right after its upload succeeded")
    reported = [
        digest
        for digest in (_native_sha256(head), head.metadata.get(CHECKSUM_METADATA))
        if digest is not None
    ]
    if head.content_length != bundle.size or set(reported) != {bundle.sha256}:
        raise ReleaseError(
            f"{where} does not match the bundle after upload: S3 reports "
            f"{head.content_length} bytes, sha256 {' and '.join(reported) or 'none'}; "
            f"expected {bundle.size} bytes, sha256 {bundle.sha256}"
        )
    return UploadResult(
        url=_object_url(client.endpoint, location),
        etag=etag,
        multipart=bundle.size > part_size,
    )


def _object_url(endpoint: str | None, location: ArtifactLocation) -> str:
    """The path-style URL the object was written to (``s3://`` for AWS itself)."""
    if endpoint is None:
        return f"s3://{location.bucket}/{location.key}"
    return f"{endpoint}/{location.bucket}/{quote(location.key, safe='/~')}"


def _native_sha256(head: ObjectHead) -> str | None:
    """S3's own ``x-amz-checksum-sha256`` as hex, unless the object is multipart: then it is a
    composite of the parts' checksums, not the object's digest."""
    if not head.checksum_sha256 or head.is_multipart or "-" in head.checksum_sha256:
        return None
    try:
        return base64.b64decode(head.checksum_sha256, validate=True).hex()
    except ValueError:
        return head.checksum_sha256  # not base64: reported as is, and never a match
