"""``flaresuite release upload`` against moto's standalone S3 server with signature checking:
real HTTP, real SigV4, and the object read back byte for byte."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
from pathlib import Path

import pytest
import yaml

from flaresuite.http import HttpResponse
from flaresuite.s3 import S3Client
from flaresuite_host.cli import main
from flaresuite_host.release import cli as release_cli
from flaresuite_host.release.bundle import bundle_worker
from flaresuite_host.release.errors import ReleaseError
from flaresuite_host.release.fingerprint import fingerprint
from flaresuite_host.release.location import ArtifactLocation
from flaresuite_host.release.upload import upload_bundle
from flaresuite_host.transport import HttpxFetch

from .conftest import FakePywrangler

pytestmark = pytest.mark.moto

MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def no_credentials_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def secret_dir(tmp_path: Path, moto_s3) -> Path:
    """The r2-credentials Secret as Kubernetes mounts it, values ending in a newline."""
    secret = tmp_path / "r2-credentials"
    secret.mkdir()
    (secret / "access-key-id").write_text(moto_s3.credentials.access_key_id + "\n")
    (secret / "secret-access-key").write_text(moto_s3.credentials.secret_access_key + "\n")
    return secret


def bundle(project: Path, size: int = 0) -> bytes:
    """Bundles the fake project (with ``size`` incompressible bytes added) and returns the
    archive."""
    extra = {"blob.bin": hashlib.shake_256(b"blob").digest(size)} if size else {}
    return bundle_worker(project, "index", FakePywrangler(extra=extra)).archive.read_bytes()


def upload(project: Path, moto_s3, bucket: str, key: str, *extra: str) -> int:
    return main(
        [
            "release",
            "upload",
            "index",
            "--project-root",
            str(project),
            "--bucket",
            bucket,
            "--key",
            key,
            "--endpoint",
            moto_s3.endpoint,
            *extra,
        ]
    )


def test_a_small_bundle_goes_up_in_one_put_with_its_checksums(
    project, moto_s3, secret_dir, capsys
) -> None:
    archive = bundle(project)
    bucket = moto_s3.new_bucket()
    assert (
        upload(
            project,
            moto_s3,
            bucket,
            "index/abc.tar.gz",
            "--credentials-dir",
            str(secret_dir),
            "--json",
        )
        == 0
    )

    captured = capsys.readouterr()
    assert captured.err == ""  # no progress bar when stderr is not a terminal
    result = json.loads(captured.out)
    digest = hashlib.sha256(archive).hexdigest()
    assert result == {
        "worker": "index",
        "bucket": bucket,
        "key": "index/abc.tar.gz",
        "url": f"{moto_s3.endpoint}/{bucket}/index/abc.tar.gz",
        "etag": hashlib.md5(archive).hexdigest(),
        "sha256": digest,
        "size-bytes": len(archive),
        "multipart": False,
    }
    stored = moto_s3.boto.get_object(Bucket=bucket, Key="index/abc.tar.gz")
    assert stored["Body"].read() == archive
    head = moto_s3.boto.head_object(Bucket=bucket, Key="index/abc.tar.gz", ChecksumMode="ENABLED")
    assert base64.b64decode(head["ChecksumSHA256"]).hex() == digest
    assert head["Metadata"] == {"checksum-sha256": digest}
    assert head["ETag"] == f'"{hashlib.md5(archive).hexdigest()}"'
    assert head["ContentType"] == "application/gzip"


def test_a_bundle_above_the_part_size_goes_up_in_parts(
    project, moto_s3, secret_dir, capsys
) -> None:
    archive = bundle(project, size=6 * MIB)
    assert len(archive) > 5 * MIB
    bucket = moto_s3.new_bucket()
    assert (
        upload(
            project,
            moto_s3,
            bucket,
            "index/big.tar.gz",
            "--credentials-dir",
            str(secret_dir),
            "--part-size",
            "5",
            "--json",
        )
        == 0
    )

    result = json.loads(capsys.readouterr().out)
    assert result["multipart"] is True
    assert result["etag"].endswith("-2")
    stored = moto_s3.boto.get_object(Bucket=bucket, Key="index/big.tar.gz")
    body = stored["Body"].read()
    assert body == archive
    assert hashlib.sha256(body).hexdigest() == result["sha256"]
    head = moto_s3.boto.head_object(Bucket=bucket, Key="index/big.tar.gz")
    assert head["Metadata"] == {"checksum-sha256": hashlib.sha256(archive).hexdigest()}
    assert head["ContentLength"] == len(archive)


def test_credentials_can_come_from_the_environment(project, moto_s3, monkeypatch, capsys) -> None:
    archive = bundle(project)
    bucket = moto_s3.new_bucket()
    monkeypatch.setenv("S3_ACCESS_KEY_ID", moto_s3.credentials.access_key_id)
    monkeypatch.setenv("S3_SECRET_ACCESS_KEY", moto_s3.credentials.secret_access_key)
    assert upload(project, moto_s3, bucket, "index/env.tar.gz") == 0
    assert capsys.readouterr().out == (
        f"uploaded dist/index.tar.gz ({len(archive)} bytes, sha256 "
        f"{hashlib.sha256(archive).hexdigest()}) to {moto_s3.endpoint}/{bucket}/index/env.tar.gz\n"
    )
    assert moto_s3.boto.get_object(Bucket=bucket, Key="index/env.tar.gz")["Body"].read() == archive


def test_a_wrong_secret_is_refused_by_the_server(project, moto_s3, tmp_path, capsys) -> None:
    bundle(project)
    bucket = moto_s3.new_bucket()
    secret = tmp_path / "wrong"
    secret.mkdir()
    (secret / "access-key-id").write_text(moto_s3.credentials.access_key_id)
    (secret / "secret-access-key").write_text("not-the-secret")
    # The server refused the signature: a failed upload (1), not a usage error.
    assert upload(project, moto_s3, bucket, "index/x.tar.gz", "--credentials-dir", str(secret)) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"flaresuite: failed: upload of s3://{bucket}/index/x.tar.gz failed: ")
    assert "403 SignatureDoesNotMatch" in error
    assert "not-the-secret" not in error
    assert moto_s3.boto.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_a_missing_bucket_is_reported(project, moto_s3, secret_dir, capsys) -> None:
    bundle(project)
    assert (
        upload(
            project,
            moto_s3,
            "no-such-bucket-here",
            "index/x.tar.gz",
            "--credentials-dir",
            str(secret_dir),
        )
        == 1
    )
    assert "404 NoSuchBucket" in capsys.readouterr().err


def test_an_unreachable_endpoint_is_reported_after_retries(project, tmp_path, capsys) -> None:
    bundle(project)
    secret = tmp_path / "r2-credentials"
    secret.mkdir()
    (secret / "access-key-id").write_text("AKIDEXAMPLE")
    (secret / "secret-access-key").write_text("s3cr3t")
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens on loopback
    assert (
        main(
            [
                "release",
                "upload",
                "index",
                "--project-root",
                str(project),
                "--bucket",
                "worker-scripts",
                "--key",
                "k",
                "--endpoint",
                closed,
                "--credentials-dir",
                str(secret),
            ]
        )
        == 1
    )
    error = capsys.readouterr().err
    assert "upload of s3://worker-scripts/k failed" in error
    assert "failed after 4 attempts" in error


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_progress_bar(project, moto_s3, secret_dir, monkeypatch, capsys) -> None:
    archive = bundle(project, size=6 * MIB)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert (
        upload(
            project,
            moto_s3,
            moto_s3.new_bucket(),
            "index/p.tar.gz",
            "--credentials-dir",
            str(secret_dir),
            "--part-size",
            "5",
        )
        == 0
    )
    drawn = terminal.getvalue()
    assert f"upload [{'.' * 30}] 0/{len(archive)}" in drawn
    assert f"] {5 * MIB}/{len(archive)}" in drawn
    assert f"upload [{'#' * 30}] {len(archive)}/{len(archive)}" in drawn
    assert drawn.endswith("\r\x1b[2K")  # the bar is cleared before the result is printed


@pytest.mark.parametrize(
    "header, value",
    [
        ("x-amz-meta-checksum-sha256", "0" * 64),
        ("x-amz-checksum-sha256", base64.b64encode(bytes(32)).decode()),
        ("x-amz-checksum-sha256", "not base64!"),
        ("content-length", "1"),
    ],
)
async def test_an_object_that_does_not_match_after_upload_is_an_error(
    moto_s3, header: str, value: str
) -> None:
    data = b"bundle bytes"
    bucket = moto_s3.new_bucket()
    async with HttpxFetch() as fetch:

        async def misreporting(request):
            # Stands in for a store that kept something else: HEAD reports other facts.
            response = await fetch(request)
            if request.method != "HEAD":
                return response
            return HttpResponse(response.status, {**response.headers, header: value}, response.body)

        client = S3Client(
            misreporting,
            region=moto_s3.region,
            endpoint=moto_s3.endpoint,
            credentials=moto_s3.credentials,
        )
        with pytest.raises(ReleaseError, match="does not match the bundle after upload"):
            await upload_bundle(
                client, ArtifactLocation(bucket, "k"), data, fingerprint(data), part_size=5 * MIB
            )


async def test_an_object_missing_right_after_upload_is_an_error(moto_s3) -> None:
    data = b"bundle bytes"
    bucket = moto_s3.new_bucket()
    async with HttpxFetch() as fetch:

        async def forgetful(request):
            # Stands in for a store that lost the object between the PUT and the HEAD.
            if request.method == "HEAD":
                return HttpResponse(404, {}, b"")
            return await fetch(request)

        client = S3Client(
            forgetful,
            region=moto_s3.region,
            endpoint=moto_s3.endpoint,
            credentials=moto_s3.credentials,
        )
        with pytest.raises(
            ReleaseError, match=f"s3://{bucket}/k is missing right after its upload"
        ):
            await upload_bundle(
                client, ArtifactLocation(bucket, "k"), data, fingerprint(data), part_size=5 * MIB
            )


def test_the_pipeline_stages_bundle_upload_and_describe_the_same_bytes(
    project, moto_s3, secret_dir, monkeypatch, capsys
) -> None:
    monkeypatch.setattr(release_cli, "run_subprocess", FakePywrangler())
    bucket = moto_s3.new_bucket()
    root = ["--project-root", str(project)]
    assert main(["release", "bundle", "purge", *root]) == 0
    assert (
        main(
            [
                "release",
                "upload",
                "purge",
                *root,
                "--bucket",
                bucket,
                "--key",
                "purge/c0ffee.tar.gz",
                "--endpoint",
                moto_s3.endpoint,
                "--credentials-dir",
                str(secret_dir),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "release",
                "metadata",
                "purge",
                *root,
                "--bucket",
                bucket,
                "--key",
                "purge/c0ffee.tar.gz",
                "--name",
                "purge-artifact-metadata",
            ]
        )
        == 0
    )

    data = yaml.safe_load(capsys.readouterr().out)["data"]
    stored = moto_s3.boto.get_object(Bucket=bucket, Key=data["path"])["Body"].read()
    assert data["bucket"] == bucket
    assert data["content-hash"] == hashlib.sha256(stored).hexdigest()
    assert data["size-bytes"] == str(len(stored))
