"""Vendor ``python_modules/`` from the local wheel cache, as ``pywrangler sync`` would.

``pywrangler sync`` cannot run offline (it downloads a Python 3.14 and resolves against
Pyodide's package index), but ``pywrangler deploy``/``dev`` only call it when the ``.synced``
markers are missing, stale, or name another workers-py version (workers-py 1.17.9,
``pywrangler/sync.py:is_sync_needed``). So this script lays out ``python_modules/`` the way
sync leaves it (the unpacked wheels of ``[project].dependencies`` plus
``workers-runtime-sdk``, and an empty ``pyvenv.cfg``) and writes both markers.

Usage: ``python3 scripts/vendor_python_modules.py`` (after ``scripts/lane_wheels.py``).
"""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lane_wheels import DEFAULT_CACHE, ROOT, fetch_all, locked_packages

VENDOR = ROOT / "python_modules"
MARKERS = (VENDOR / ".synced", ROOT / ".venv-workers" / ".synced")


def workers_py_version() -> str:
    """The version pywrangler compares the markers with: the locked workers-py."""
    return locked_packages()["workers-py"]["version"]


def vendor(cache: Path = DEFAULT_CACHE) -> list[Path]:
    wheels = fetch_all(cache, lane=True)
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    VENDOR.mkdir()
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(VENDOR)
    (VENDOR / "pyvenv.cfg").touch()
    version = workers_py_version()
    for marker in MARKERS:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(version)
    return wheels


def main() -> int:
    for wheel in vendor():
        print(f"vendored {wheel.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
