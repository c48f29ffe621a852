"""The tree shows what runs where: the pure core (src/flaresuite) never imports the runtime
(js, pyodide, workers), the host side (host/flaresuite_host) or a host-only library; entry
modules and cfbindings never import the host side either, and an entry module stays a screen
long. Checked on the source, so a lazy import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "src" / "flaresuite"
WORKER_SIDE = [*(ROOT / "src").glob("*_worker.py"), *(ROOT / "src" / "cfbindings").glob("*.py")]
RUNTIME = {"js", "pyodide", "workers"}
HOST_ONLY = {"flaresuite_host", "httpx", "websockets", "yaml", "boto3", "botocore"}
ENTRY_MODULES = sorted((ROOT / "src").glob("*_worker.py"))
MAX_ENTRY_LINES = 60


def imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_core_imports_neither_the_runtime_nor_the_host(path):
    assert imported_packages(path) & (RUNTIME | HOST_ONLY) == set()


@pytest.mark.parametrize("path", sorted(WORKER_SIDE), ids=lambda p: str(p.relative_to(ROOT)))
def test_worker_code_never_imports_the_host_side(path):
    assert imported_packages(path) & HOST_ONLY == set()


def test_there_is_an_entry_module_per_worker():
    names = [path.name for path in ENTRY_MODULES]
    assert names == ["glean_worker.py", "index_worker.py", "purge_worker.py", "swarm_worker.py"]


@pytest.mark.parametrize("path", ENTRY_MODULES, ids=lambda p: p.name)
def test_an_entry_module_only_adapts_and_fits_a_screen(path):
    assert len(path.read_text().splitlines()) <= MAX_ENTRY_LINES
