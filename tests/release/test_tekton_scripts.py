"""The Tasks' step scripts, run by ``sh`` with stand-ins for kubectl, kustomize and flaresuite
on PATH: what they pass on, what they record as results, and how they refuse bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from flaresuite_host.release.bundle import bundle_worker

from .conftest import FakePywrangler
from .test_tekton import tasks

KUBECTL = r"""#!/bin/sh
# Records every call; plays `create --dry-run`, `label --local` and `apply` well enough.
echo "kubectl $*" >> "$CALLS"
case "$1" in
  create) printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n' "$3" ;;
  label) cat "$4" ;;
  apply) cp "$3" "$APPLIED" ;;
esac
"""
KUSTOMIZE = """#!/bin/sh
echo "kustomize $*" >> "$CALLS"
printf 'kind: CloudflareWorker\\n'
"""


def step_script(task: str, step: str) -> str:
    (found,) = [s for s in tasks()[task]["spec"]["steps"] if s["name"] == step]
    return found["script"]


def run_step(
    task: str, step: str, cwd: Path, tools: dict[str, str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    bin_dir = cwd.parent / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in tools.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    script = cwd.parent / f"{step}.sh"
    script.write_text(step_script(task, step))
    return subprocess.run(
        ["sh", str(script)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "CALLS": str(cwd.parent / "calls"), **env},
    )


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    (root / "_kustomize").mkdir(parents=True)
    return root


def kustomize_env(key: str, value: str) -> dict[str, str]:
    return {
        "KUSTOMIZE_DIR": "_kustomize",
        "CONFIG_MAP": "index-manifests",
        "OWNER_LABEL_KEY": key,
        "OWNER_LABEL_VALUE": value,
    }


def test_kustomize_output_is_applied_as_a_labelled_config_map(checkout: Path) -> None:
    applied = checkout.parent / "applied.yaml"
    done = run_step(
        "kustomize-build-to-config-map",
        "build-and-store",
        checkout,
        {"kubectl": KUBECTL, "kustomize": KUSTOMIZE},
        {**kustomize_env("example.com/service-id", "svc-1"), "APPLIED": str(applied)},
    )
    assert done.returncode == 0, done.stderr
    calls = (checkout.parent / "calls").read_text().splitlines()
    assert calls[0] == "kustomize build _kustomize"
    assert calls[1].startswith(
        "kubectl create configmap index-manifests --from-file=manifests.yaml="
    )
    assert calls[2].startswith("kubectl label --local -f ")
    assert calls[2].endswith(
        "app.kubernetes.io/managed-by=flaresuite example.com/service-id=svc-1 -o yaml"
    )
    assert calls[3].startswith("kubectl apply -f ")
    assert "name: index-manifests" in applied.read_text()


def test_kustomize_without_an_owner_label_sets_only_managed_by(checkout: Path) -> None:
    done = run_step(
        "kustomize-build-to-config-map",
        "build-and-store",
        checkout,
        {"kubectl": KUBECTL, "kustomize": KUSTOMIZE},
        {**kustomize_env("", ""), "APPLIED": str(checkout.parent / "a.yaml")},
    )
    assert done.returncode == 0, done.stderr
    label = (checkout.parent / "calls").read_text().splitlines()[2]
    assert label.endswith("app.kubernetes.io/managed-by=flaresuite -o yaml")


@pytest.mark.parametrize("key, value", [("example.com/service-id", ""), ("", "svc-1")])
def test_kustomize_refuses_half_an_owner_label(checkout: Path, key: str, value: str) -> None:
    done = run_step(
        "kustomize-build-to-config-map",
        "build-and-store",
        checkout,
        {"kubectl": KUBECTL, "kustomize": KUSTOMIZE},
        kustomize_env(key, value),
    )
    assert done.returncode == 2
    assert "Either provide both the owner label key and value, or neither" in done.stderr
    assert not (checkout.parent / "calls").exists()


def test_kustomize_refuses_to_build_without_a_config_map_name(checkout: Path) -> None:
    done = run_step(
        "kustomize-build-to-config-map",
        "build-and-store",
        checkout,
        {"kubectl": KUBECTL, "kustomize": KUSTOMIZE},
        {**kustomize_env("", ""), "CONFIG_MAP": ""},
    )
    assert done.returncode == 2
    assert "kustomize-manifests-config-map-name" in done.stderr
    assert not (checkout.parent / "calls").exists()


def test_kustomize_reports_a_missing_directory(checkout: Path) -> None:
    (checkout / "_kustomize").rmdir()
    done = run_step(
        "kustomize-build-to-config-map",
        "build-and-store",
        checkout,
        {"kubectl": KUBECTL, "kustomize": KUSTOMIZE},
        kustomize_env("", ""),
    )
    assert done.returncode == 2
    assert "kustomize directory _kustomize not found in project root" in done.stderr
    assert 'pass kustomize-base-directory "" to the Pipeline to skip this stage' in done.stderr


def test_the_bundle_step_records_the_archives_sha256_and_size_as_results(checkout: Path) -> None:
    venv_bin = checkout / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    # Stands in for `flaresuite release bundle`: writes what the real command writes.
    (venv_bin / "flaresuite").write_text(
        '#!/bin/sh\necho "flaresuite $*" >> "$CALLS"\nmkdir -p dist\n'
        'printf 0123456789 > "dist/$3.tar.gz"\n'
        'printf "%s  %s\\n" 84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882 '
        '"$3.tar.gz" > "dist/$3.tar.gz.sha256"\n'
    )
    (venv_bin / "flaresuite").chmod(0o755)
    results = checkout.parent / "results"
    results.mkdir()
    done = run_step(
        "flaresuite-bundle-worker",
        "bundle",
        checkout,
        {},
        {
            "WORKER": "delete-proxy",
            "CONTENT_HASH_RESULT": str(results / "content-hash"),
            "SIZE_BYTES_RESULT": str(results / "size-bytes"),
        },
    )
    assert done.returncode == 0, done.stderr
    assert (checkout.parent / "calls").read_text() == "flaresuite release bundle delete-proxy\n"
    assert (results / "content-hash").read_text() == (
        "84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882"
    )
    assert (results / "size-bytes").read_text() == "10"


def test_a_failing_release_command_fails_the_step(checkout: Path) -> None:
    venv_bin = checkout / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "flaresuite").write_text(
        "#!/bin/sh\necho 'flaresuite: error: wrangler.toml not found in project root' >&2\nexit 2\n"
    )
    (venv_bin / "flaresuite").chmod(0o755)
    done = run_step(
        "flaresuite-bundle-worker",
        "bundle",
        checkout,
        {},
        {"WORKER": "index", "CONTENT_HASH_RESULT": "/dev/null", "SIZE_BYTES_RESULT": "/dev/null"},
    )
    assert done.returncode == 2
    assert "wrangler.toml not found in project root" in done.stderr
    assert not (checkout / "dist").exists()


def real_venv(root: Path) -> None:
    """``.venv/bin/flaresuite`` and ``.venv/bin/python`` in ``root``, as the bundle Task leaves
    them: here the ones of the environment running the tests."""
    venv_bin = root / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    for name in ("flaresuite", "python"):
        (venv_bin / name).symlink_to(Path(sys.executable).parent / name)


@pytest.mark.moto
def test_the_upload_step_uploads_and_records_the_url_the_cli_reports(
    project: Path, moto_s3, tmp_path: Path
) -> None:
    archive = bundle_worker(project, "index", FakePywrangler()).archive.read_bytes()
    real_venv(project)
    secret = tmp_path / "r2-credentials"
    secret.mkdir()
    (secret / "access-key-id").write_text(moto_s3.credentials.access_key_id)
    (secret / "secret-access-key").write_text(moto_s3.credentials.secret_access_key)
    bucket = moto_s3.new_bucket()
    result = tmp_path / "artifact-url"

    done = run_step(
        "flaresuite-upload-bundle",
        "upload",
        project,
        {},
        {
            "WORKER": "index",
            "BUCKET": bucket,
            "ENDPOINT": moto_s3.endpoint + "/",
            "OBJECT_KEY": "index/build 7.tar.gz",
            "CREDENTIALS_DIR": str(secret),
            "ARTIFACT_URL_RESULT": str(result),
        },
    )

    assert done.returncode == 0, done.stderr
    assert result.read_text() == f"{moto_s3.endpoint}/{bucket}/index/build%207.tar.gz"
    assert json.loads(done.stdout)["url"] == result.read_text()
    stored = moto_s3.boto.get_object(Bucket=bucket, Key="index/build 7.tar.gz")
    assert stored["Body"].read() == archive


def test_a_failed_upload_fails_the_step_and_records_no_url(project: Path, tmp_path: Path) -> None:
    bundle_worker(project, "index", FakePywrangler())
    real_venv(project)
    result = tmp_path / "artifact-url"
    done = run_step(
        "flaresuite-upload-bundle",
        "upload",
        project,
        {},
        {
            "WORKER": "index",
            "BUCKET": "worker-scripts",
            "ENDPOINT": "http://127.0.0.1:9",
            "OBJECT_KEY": "index/x.tar.gz",
            "CREDENTIALS_DIR": str(tmp_path / "absent"),
            "ARTIFACT_URL_RESULT": str(result),
        },
    )
    assert done.returncode == 2
    assert "credentials directory" in done.stderr and "not found" in done.stderr
    assert not result.exists()
