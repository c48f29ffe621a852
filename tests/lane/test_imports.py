"""Every module under src/ imports on Pyodide 314 with only the vendored wheels, so a
CPython-only import (or a package the bundle does not vendor) fails here, not on Cloudflare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driver import ROOT, LaneConfig

pytestmark = pytest.mark.lane

SRC = ROOT / "src"
RUNS_ON_IMPORT = {"flaresuite_host.__main__"}
"""Starts the CLI when imported; it is `python -m flaresuite`, never imported by a Worker."""
HOST_PACKAGES = ("httpx", "websockets", "yaml")
"""The `[host]` extra: a Worker never vendors these."""

BARE = LaneConfig(
    main="tests/lane/workers/bindings_probe.py", module_roots=("src", "tests/lane/workers")
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(_module_name(p) for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)
ENTRY_MODULES = sorted(_module_name(p) for p in SRC.glob("*_worker.py"))


@pytest.fixture(scope="module")
def lane(lane_factory):
    return lane_factory(BARE)


@pytest.mark.parametrize("module", [m for m in MODULES if m not in RUNS_ON_IMPORT])
def test_module_imports_on_pyodide(lane, module):
    error = lane.run_python(
        "import importlib, traceback\n"
        "try:\n"
        f"    importlib.import_module({module!r})\n"
        "    error = None\n"
        "except BaseException:\n"
        "    error = traceback.format_exc()\n"
        "error"
    )

    assert error is None, error


@pytest.mark.parametrize("module", ENTRY_MODULES)
def test_entry_module_loads_no_host_package(lane, module):
    loaded = lane.run_python(
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        f"json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HOST_PACKAGES!r}))"
    )

    assert json.loads(loaded) == []


def test_the_walk_found_the_entry_modules():
    assert {"cfbindings", "index_worker"} <= set(MODULES)
