"""``flaresuite release``: bundle a Worker, upload the bundle to R2, print its ConfigMap.

Each sub-command is one stage of the Tekton pipeline in ``deploy/tekton/``. Errors are raised
as the type that says whose they are, and the root CLI turns them into exit statuses
(docs/release.md): 2 when the caller must change something (an option, wrangler.toml, the
credentials, the order of the steps: :class:`ReleaseSetupError`, ``ConfigError``), 1 when a
step failed with good inputs (the build, the upload: :class:`ReleaseError`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from flaresuite.errors import RuntimeFailure
from flaresuite.s3.client import MIN_PART_SIZE, S3Client
from flaresuite.s3.credentials import ACCESS_KEY_ID, SECRET_ACCESS_KEY, Credentials
from flaresuite_host.arguments import UsageError
from flaresuite_host.progress import ProgressBar
from flaresuite_host.release.bundle import CommandResult, bundle_worker, read_bundle
from flaresuite_host.release.errors import ReleaseError, ReleaseSetupError
from flaresuite_host.release.fingerprint import Fingerprint
from flaresuite_host.release.location import ArtifactLocation
from flaresuite_host.release.metadata import (
    DEFAULT_MANAGED_BY,
    artifact_config_map,
    owner_label,
    to_yaml,
)
from flaresuite_host.release.upload import (
    ACCESS_KEY_ID_FILE,
    SECRET_ACCESS_KEY_FILE,
    UploadResult,
    load_credentials,
    upload_bundle,
)
from flaresuite_host.transport import httpx_fetch

MIB = 1024 * 1024
DEFAULT_PART_SIZE_MIB = 8


def _add_worker_arguments(command: argparse.ArgumentParser) -> None:
    """WORKER and --project-root: which bundle a sub-command builds or reads."""
    command.add_argument(
        "worker",
        metavar="WORKER",
        help="'index' (the top level of wrangler.toml) or the name of an [env.NAME] section",
    )
    command.add_argument(
        "--project-root",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="directory holding wrangler.toml and dist/ (default: the current directory)",
    )


def add_commands(group: argparse.ArgumentParser) -> None:
    """Adds the sub-commands of ``flaresuite release`` to its parser."""
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")

    bundle = commands.add_parser(
        "bundle",
        help="build WORKER with pywrangler into a deterministic dist/WORKER.tar.gz",
        description=(
            "Run `pywrangler deploy --dry-run --outdir dist/WORKER` and pack the output into "
            "dist/WORKER.tar.gz (same sources, same bytes), with its sha256 in "
            "dist/WORKER.tar.gz.sha256. WORKER is 'index' (the top level of wrangler.toml) or "
            "an [env.WORKER] section."
        ),
    )
    _add_worker_arguments(bundle)
    bundle.add_argument("--json", action="store_true", help="print the result as JSON")
    bundle.set_defaults(run=run_bundle)

    upload = commands.add_parser(
        "upload",
        help="upload dist/WORKER.tar.gz to an R2 bucket over the S3 API",
        description=(
            "Upload the bundle to BUCKET/KEY at an S3-compatible endpoint (R2: "
            "https://<account>.r2.cloudflarestorage.com) with SigV4, Content-MD5 and sha256 "
            "checksums, multipart above --part-size, and retries; then HEAD it to confirm "
            f"size and sha256. Credentials: {ACCESS_KEY_ID} and {SECRET_ACCESS_KEY}, or "
            f"--credentials-dir with files {ACCESS_KEY_ID_FILE} and {SECRET_ACCESS_KEY_FILE}."
        ),
    )
    _add_worker_arguments(upload)
    upload.add_argument("--bucket", required=True, help="R2 bucket name")
    upload.add_argument("--key", required=True, help="object key, e.g. index/<commit>.tar.gz")
    upload.add_argument(
        "--endpoint", required=True, metavar="URL", help="S3-compatible endpoint URL"
    )
    upload.add_argument("--region", default="auto", help="signing region (R2: auto, the default)")
    upload.add_argument(
        "--credentials-dir",
        type=Path,
        metavar="DIR",
        help=f"a mounted Secret with files {ACCESS_KEY_ID_FILE} and "
        f"{SECRET_ACCESS_KEY_FILE} (instead of the environment)",
    )
    upload.add_argument(
        "--part-size",
        type=_part_size,
        default=DEFAULT_PART_SIZE_MIB * MIB,
        metavar="MIB",
        help=f"bundles larger than this go up in parts of this size "
        f"(MiB, at least {MIN_PART_SIZE // MIB}; "
        f"default {DEFAULT_PART_SIZE_MIB})",
    )
    upload.add_argument("--json", action="store_true", help="print the result as JSON")
    upload.set_defaults(run=run_upload)

    metadata = commands.add_parser(
        "metadata",
        help="print or write the ConfigMap that records where WORKER's bundle is",
        description=(
            "Describe dist/WORKER.tar.gz as a ConfigMap with data bucket, path, content-hash "
            "and size-bytes, labelled app.kubernetes.io/managed-by and optionally with an "
            "owner label. A bundle over 10 MB is refused."
        ),
    )
    _add_worker_arguments(metadata)
    metadata.add_argument("--bucket", required=True, help="R2 bucket holding the bundle")
    metadata.add_argument("--key", required=True, help="object key of the bundle")
    metadata.add_argument("--name", required=True, help="ConfigMap name")
    metadata.add_argument(
        "--namespace",
        help="ConfigMap namespace (default: none, so kubectl applies it to its current namespace)",
    )
    metadata.add_argument(
        "--owner-label-key",
        default="",
        metavar="KEY",
        help="owner label key; give both key and value, or neither",
    )
    metadata.add_argument("--owner-label-value", default="", metavar="VALUE")
    metadata.add_argument(
        "--managed-by",
        default=DEFAULT_MANAGED_BY,
        metavar="VALUE",
        help=f"value of app.kubernetes.io/managed-by (default {DEFAULT_MANAGED_BY})",
    )
    metadata.add_argument(
        "--output", type=Path, metavar="FILE", help="write the YAML to FILE instead of stdout"
    )
    metadata.set_defaults(run=run_metadata)


def run_bundle(args: argparse.Namespace) -> int:
    bundle = bundle_worker(args.project_root, args.worker, run_subprocess)
    archive = bundle.archive.relative_to(args.project_root).as_posix()
    if args.json:
        print(
            json.dumps(
                {
                    "worker": bundle.worker,
                    "archive": archive,
                    "sha256": bundle.fingerprint.sha256,
                    "size-bytes": bundle.fingerprint.size,
                    "files": bundle.files,
                }
            )
        )
    else:
        print(
            f"{archive}: {bundle.fingerprint.size} bytes, {bundle.files} files, "
            f"sha256 {bundle.fingerprint.sha256}"
        )
    return 0


def run_subprocess(argv: Sequence[str], cwd: Path) -> CommandResult:
    try:
        done = subprocess.run(
            list(argv), cwd=cwd, capture_output=True, text=True, errors="replace", check=False
        )
    except FileNotFoundError:
        raise ReleaseSetupError(
            f"{argv[0]} not found on PATH: it comes with workers-py; run `uv sync` and call "
            "`uv run flaresuite release ...`"
        ) from None
    return CommandResult(done.returncode, done.stdout, done.stderr)


def _part_size(text: str) -> int:
    try:
        mib = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of MiB: {text!r}") from None
    if mib * MIB < MIN_PART_SIZE:
        raise argparse.ArgumentTypeError(
            f"S3 parts are at least {MIN_PART_SIZE // MIB} MiB, got {mib}"
        )
    return mib * MIB


def run_upload(args: argparse.Namespace) -> int:
    archive, data, identity = read_bundle(args.project_root, args.worker)
    location = ArtifactLocation(args.bucket, args.key)
    credentials = load_credentials(os.environ, args.credentials_dir)
    result = asyncio.run(_upload(args, location, data, identity, credentials))
    if args.json:
        print(
            json.dumps(
                {
                    "worker": args.worker,
                    "bucket": location.bucket,
                    "key": location.key,
                    "url": result.url,
                    "etag": result.etag,
                    "sha256": identity.sha256,
                    "size-bytes": identity.size,
                    "multipart": result.multipart,
                }
            )
        )
    else:
        print(
            f"uploaded {archive.relative_to(args.project_root).as_posix()} "
            f"({identity.size} bytes, sha256 {identity.sha256}) to {result.url}"
        )
    return 0


async def _upload(
    args: argparse.Namespace,
    location: ArtifactLocation,
    data: bytes,
    identity: Fingerprint,
    credentials: Credentials,
) -> UploadResult:
    async with httpx_fetch() as fetch:
        try:
            client = S3Client(
                fetch, region=args.region, endpoint=args.endpoint, credentials=credentials
            )
        except ValueError as error:  # the endpoint is not an http(s) URL, or no region
            raise UsageError(str(error)) from None
        progress = ProgressBar()
        progress("upload", 0, identity.size)
        try:
            return await upload_bundle(
                client,
                location,
                data,
                identity,
                part_size=args.part_size,
                on_progress=lambda sent, total: progress("upload", sent, total),
            )
        except RuntimeFailure as error:  # S3Error, TransportError, ReleaseError
            raise ReleaseError(
                f"upload of s3://{location.bucket}/{location.key} failed: {error}"
            ) from None
        finally:
            progress.close()


def run_metadata(args: argparse.Namespace) -> int:
    _, _, identity = read_bundle(args.project_root, args.worker)
    manifest = artifact_config_map(
        name=args.name,
        location=ArtifactLocation(args.bucket, args.key),
        bundle=identity,
        owner=owner_label(args.owner_label_key, args.owner_label_value),
        managed_by=args.managed_by,
        namespace=args.namespace,
    )
    text = to_yaml(manifest)
    if args.output is None:
        sys.stdout.write(text)
    else:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as error:  # --output names a place that cannot be written
            raise UsageError(f"cannot write {args.output}: {error.strerror}") from None
    return 0
