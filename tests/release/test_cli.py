"""``flaresuite release`` from the command line: output, and a message with exit status 2 for
every error the caller must fix (an option, wrangler.toml, the credentials, the order of the
steps) or 1 for a step that failed with good inputs (the build)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from flaresuite_host.cli import main
from flaresuite_host.release import cli as release_cli
from flaresuite_host.release.fingerprint import MAX_BUNDLE_BYTES

from .conftest import FakePywrangler

METADATA_ARGS = [
    "--bucket",
    "worker-scripts",
    "--key",
    "index/abc.tar.gz",
    "--name",
    "index-artifact-metadata",
]
UPLOAD_ARGS = [
    "--bucket",
    "worker-scripts",
    "--key",
    "index/abc.tar.gz",
    "--endpoint",
    "http://127.0.0.1:9",
]


@pytest.fixture
def pywrangler(monkeypatch: pytest.MonkeyPatch) -> FakePywrangler:
    fake = FakePywrangler()
    monkeypatch.setattr(release_cli, "run_subprocess", fake)
    return fake


@pytest.fixture
def bundled(project: Path, pywrangler: FakePywrangler) -> Path:
    assert main(["release", "bundle", "index", "--project-root", str(project)]) == 0
    return project


@pytest.fixture(autouse=True)
def no_credentials_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def fails_with(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Runs the CLI, expects exit status 2 (bad input), and returns the error message."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("flaresuite: error: ")
    return captured.err


def breaks_with(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Runs the CLI, expects exit status 1 (a runtime failure), and returns the message."""
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("flaresuite: failed: ")
    return captured.err


# bundle


def test_bundle_prints_the_archive_size_and_sha256(project, pywrangler, capsys) -> None:
    assert main(["release", "bundle", "purge", "--project-root", str(project)]) == 0
    data = (project / "dist" / "purge.tar.gz").read_bytes()
    assert capsys.readouterr().out == (
        f"dist/purge.tar.gz: {len(data)} bytes, 5 files, "
        f"sha256 {hashlib.sha256(data).hexdigest()}\n"
    )


def test_bundle_json(project, pywrangler, capsys) -> None:
    assert main(["release", "bundle", "index", "--project-root", str(project), "--json"]) == 0
    data = (project / "dist" / "index.tar.gz").read_bytes()
    assert json.loads(capsys.readouterr().out) == {
        "worker": "index",
        "archive": "dist/index.tar.gz",
        "sha256": hashlib.sha256(data).hexdigest(),
        "size-bytes": len(data),
        "files": 5,
    }


def test_bundle_without_wrangler_toml(tmp_path, pywrangler, capsys) -> None:
    error = fails_with(capsys, ["release", "bundle", "index", "--project-root", str(tmp_path)])
    assert "wrangler.toml not found in project root" in error


def test_bundle_reports_the_tools_stderr(project, monkeypatch, capsys) -> None:
    monkeypatch.setattr(
        release_cli,
        "run_subprocess",
        FakePywrangler(returncode=1, stderr='✘ [ERROR] Could not resolve "src/index_worker.py"\n'),
    )
    error = breaks_with(capsys, ["release", "bundle", "index", "--project-root", str(project)])
    assert "failed with exit status 1" in error
    assert '✘ [ERROR] Could not resolve "src/index_worker.py"' in error


def test_bundle_not_created(project, monkeypatch, capsys) -> None:
    monkeypatch.setattr(release_cli, "run_subprocess", FakePywrangler(writes=False))
    error = breaks_with(capsys, ["release", "bundle", "index", "--project-root", str(project)])
    assert "Bundle not created at dist/index/index_worker.py" in error


def test_bundle_without_pywrangler_on_path(project, monkeypatch, tmp_path, capsys) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    error = fails_with(capsys, ["release", "bundle", "index", "--project-root", str(project)])
    assert "pywrangler not found on PATH" in error


def test_bundle_of_an_unknown_worker(project, pywrangler, capsys) -> None:
    error = fails_with(capsys, ["release", "bundle", "swarm", "--project-root", str(project)])
    assert "unknown Worker 'swarm'" in error
    assert pywrangler.calls == []


# metadata


def test_metadata_prints_the_config_map(bundled, capsys) -> None:
    assert (
        main(
            [
                "release",
                "metadata",
                "index",
                "--project-root",
                str(bundled),
                *METADATA_ARGS,
                "--owner-label-key",
                "example.com/service-id",
                "--owner-label-value",
                "svc-index",
            ]
        )
        == 0
    )
    manifest = yaml.safe_load(capsys.readouterr().out)
    data = (bundled / "dist" / "index.tar.gz").read_bytes()
    assert manifest["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "flaresuite",
        "example.com/service-id": "svc-index",
    }
    assert manifest["data"] == {
        "bucket": "worker-scripts",
        "path": "index/abc.tar.gz",
        "content-hash": hashlib.sha256(data).hexdigest(),
        "size-bytes": str(len(data)),
    }


def test_metadata_writes_the_config_map_to_a_file(bundled, tmp_path, capsys) -> None:
    out = tmp_path / "configmap.yaml"
    assert (
        main(
            [
                "release",
                "metadata",
                "index",
                "--project-root",
                str(bundled),
                *METADATA_ARGS,
                "--owner-label-key",
                "",
                "--owner-label-value",
                "",
                "--namespace",
                "pipelines",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    assert capsys.readouterr().out == ""
    manifest = yaml.safe_load(out.read_text())
    assert manifest["metadata"] == {
        "name": "index-artifact-metadata",
        "namespace": "pipelines",
        "labels": {"app.kubernetes.io/managed-by": "flaresuite"},
    }


def test_metadata_before_bundle(project, capsys) -> None:
    error = fails_with(
        capsys, ["release", "metadata", "index", "--project-root", str(project), *METADATA_ARGS]
    )
    assert "run `flaresuite release bundle index` first" in error


def test_metadata_refuses_a_bundle_over_10_mb(project, capsys) -> None:
    oversized = b"\0" * (MAX_BUNDLE_BYTES + 1)
    (project / "dist").mkdir()
    (project / "dist" / "index.tar.gz").write_bytes(oversized)
    (project / "dist" / "index.tar.gz.sha256").write_text(
        f"{hashlib.sha256(oversized).hexdigest()}  index.tar.gz\n"
    )
    error = fails_with(
        capsys, ["release", "metadata", "index", "--project-root", str(project), *METADATA_ARGS]
    )
    assert "10485761 bytes, over Cloudflare's Worker size limit of 10 MB" in error


def test_metadata_with_half_an_owner_label(bundled, capsys) -> None:
    error = fails_with(
        capsys,
        [
            "release",
            "metadata",
            "index",
            "--project-root",
            str(bundled),
            *METADATA_ARGS,
            "--owner-label-key",
            "example.com/owner",
        ],
    )
    assert "Either provide both the owner label key and value, or neither" in error


def test_metadata_to_an_unwritable_file(bundled, tmp_path, capsys) -> None:
    error = fails_with(
        capsys,
        [
            "release",
            "metadata",
            "index",
            "--project-root",
            str(bundled),
            *METADATA_ARGS,
            "--output",
            str(tmp_path / "no" / "dir.yaml"),
        ],
    )
    assert "cannot write" in error


# upload: every error that needs no server


def test_upload_without_credentials(bundled, capsys) -> None:
    error = fails_with(
        capsys, ["release", "upload", "index", "--project-root", str(bundled), *UPLOAD_ARGS]
    )
    assert (
        "no credentials: set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or pass "
        "--credentials-dir DIR"
    ) in error


def test_upload_with_half_a_key_pair_in_the_environment(bundled, monkeypatch, capsys) -> None:
    monkeypatch.setenv("S3_ACCESS_KEY_ID", "AKIDEXAMPLE")
    error = fails_with(
        capsys, ["release", "upload", "index", "--project-root", str(bundled), *UPLOAD_ARGS]
    )
    assert "set both S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or neither" in error


def test_upload_with_a_secret_file_missing(bundled, tmp_path, capsys) -> None:
    secret = tmp_path / "r2-credentials"
    secret.mkdir()
    (secret / "access-key-id").write_text("AKIDEXAMPLE\n")
    error = fails_with(
        capsys,
        [
            "release",
            "upload",
            "index",
            "--project-root",
            str(bundled),
            *UPLOAD_ARGS,
            "--credentials-dir",
            str(secret),
        ],
    )
    assert "needs non-empty files access-key-id and secret-access-key" in error
    assert "missing or empty: secret-access-key" in error


def test_upload_with_an_empty_secret_file(bundled, tmp_path, capsys) -> None:
    secret = tmp_path / "r2-credentials"
    secret.mkdir()
    (secret / "access-key-id").write_text("\n")
    (secret / "secret-access-key").write_text("s3cr3t\n")
    error = fails_with(
        capsys,
        [
            "release",
            "upload",
            "index",
            "--project-root",
            str(bundled),
            *UPLOAD_ARGS,
            "--credentials-dir",
            str(secret),
        ],
    )
    assert "missing or empty: access-key-id" in error


def test_upload_with_a_missing_credentials_directory(bundled, tmp_path, capsys) -> None:
    error = fails_with(
        capsys,
        [
            "release",
            "upload",
            "index",
            "--project-root",
            str(bundled),
            *UPLOAD_ARGS,
            "--credentials-dir",
            str(tmp_path / "absent"),
        ],
    )
    assert "credentials directory" in error and "not found" in error


def test_upload_before_bundle(project, capsys) -> None:
    error = fails_with(
        capsys, ["release", "upload", "index", "--project-root", str(project), *UPLOAD_ARGS]
    )
    assert "run `flaresuite release bundle index` first" in error


def test_upload_to_an_invalid_bucket(bundled, capsys) -> None:
    error = fails_with(
        capsys,
        [
            "release",
            "upload",
            "index",
            "--project-root",
            str(bundled),
            "--bucket",
            "No_Such",
            "--key",
            "k",
            "--endpoint",
            "http://x",
        ],
    )
    assert "invalid bucket name 'No_Such'" in error


def test_upload_to_an_endpoint_that_is_not_a_url(bundled, monkeypatch, capsys) -> None:
    monkeypatch.setenv("S3_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("S3_SECRET_ACCESS_KEY", "s3cr3t")
    error = fails_with(
        capsys,
        [
            "release",
            "upload",
            "index",
            "--project-root",
            str(bundled),
            "--bucket",
            "worker-scripts",
            "--key",
            "k",
            "--endpoint",
            "ftp://example.com",
        ],
    )
    assert "endpoint must be an http:// or https:// URL" in error


# flags


@pytest.mark.parametrize(
    "argv",
    [
        ["release"],
        ["release", "bundle"],
        ["release", "bundle", "index", "--no-such-flag"],
        ["release", "upload", "index", "--key", "k", "--endpoint", "http://x"],
        ["release", "upload", "index", *UPLOAD_ARGS, "--part-size", "4"],
        ["release", "upload", "index", *UPLOAD_ARGS, "--part-size", "lots"],
        ["release", "metadata", "index", "--bucket", "b", "--key", "k"],
    ],
)
def test_bad_flags_exit_2_with_usage(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "error:" in capsys.readouterr().err
