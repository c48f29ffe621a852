"""Every swarm module imports where only the Worker's dependencies exist (Pyodide has no
``websockets`` or ``httpx``): host-only packages are imported inside the functions that use them."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import flaresuite.swarm

BLOCK_HOST_PACKAGES = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {"websockets", "httpx", "playwright"}:
            raise ImportError(f"{name} is host-only")
sys.meta_path.insert(0, Block())
import importlib
for name in sys.argv[1:]:
    importlib.import_module(name)
"""


def test_every_swarm_module_imports_without_host_packages():
    modules = ["flaresuite.swarm"] + [
        m.name for m in pkgutil.walk_packages(flaresuite.swarm.__path__, "flaresuite.swarm.")
    ]
    assert "flaresuite.swarm.server" in modules and "flaresuite.swarm.device" in modules
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_HOST_PACKAGES, *modules], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
