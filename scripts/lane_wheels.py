"""Fetch the pure-Python wheels a Worker needs into a local cache, pinned by ``uv.lock``.

The Pyodide lane unpacks these into Pyodide's site-packages and the bundle check vendors them
into ``python_modules/``; neither may touch the network afterwards. The set is the runtime
closure of ``[project].dependencies`` in ``uv.lock`` (what ``pywrangler`` vendors), plus
``workers-runtime-sdk`` (which workerd provides on Cloudflare but the lane must bring).

Downloads are checked against the sha256 hashes recorded in ``uv.lock``. A package without a
pure wheel on PyPI (MarkupSafe) is built from its sdist with ``CC=/bin/false``: its
``setup.py`` falls back to the pure-Python implementation when the C build fails.

Usage: ``python scripts/lane_wheels.py [--cache lane/.cache/wheels]``; prints the wheel paths.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = ROOT / "lane" / ".cache" / "wheels"
LANE_ONLY = ("workers-runtime-sdk",)
"""Provided by workerd on Cloudflare, so never vendored, but needed by the lane."""


def normalize(name: str) -> str:
    """PEP 503 name normalization."""
    return "-".join(name.replace("_", "-").replace(".", "-").lower().split("-"))


def locked_packages(lock_path: Path = ROOT / "uv.lock") -> dict[str, dict]:
    lock = tomllib.loads(lock_path.read_text())
    return {normalize(p["name"]): p for p in lock["package"]}


def runtime_closure(packages: dict[str, dict], project: str = "flaresuite") -> list[str]:
    """Names reachable from the project's own (non-extra, non-group) dependencies."""
    seen: list[str] = []
    pending = [normalize(d["name"]) for d in packages[project].get("dependencies", [])]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.append(name)
        pending.extend(normalize(d["name"]) for d in packages[name].get("dependencies", []))
    return sorted(seen)


def _hashes(entry: dict) -> list[str]:
    files = list(entry.get("wheels", []))
    if "sdist" in entry:
        files.append(entry["sdist"])
    return [f["hash"] for f in files if "hash" in f]


def _pip_command() -> list[str]:
    # uv's venvs carry no pip; uvx brings one from PyPI on first use.
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    return ["uvx", "pip"]


def _pip(*args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(
        [*_pip_command(), "--disable-pip-version-check", "-q", *args], check=True, env=env
    )


def _requirement_file(directory: Path, entry: dict) -> Path:
    path = directory / f"{entry['name']}.txt"
    hashes = " ".join(f"--hash={h}" for h in _hashes(entry))
    path.write_text(f"{entry['name']}=={entry['version']} {hashes}\n")
    return path


def _cached(cache: Path, name: str, version: str) -> Path | None:
    prefix = f"{name.replace('-', '_')}-{version}-".lower()
    for wheel in cache.glob("*.whl"):
        if wheel.name.lower().startswith(prefix) and wheel.name.endswith("-none-any.whl"):
            return wheel
    return None


def fetch_wheel(cache: Path, entry: dict) -> Path:
    """The pure wheel for one locked package, downloading or building it if not cached."""
    name, version = normalize(entry["name"]), entry["version"]
    if (wheel := _cached(cache, name, version)) is not None:
        return wheel
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        requirement = _requirement_file(work, entry)
        pure = any(w["url"].endswith("-none-any.whl") for w in entry.get("wheels", []))
        if pure:
            _pip(
                "download",
                "--no-deps",
                "--require-hashes",
                "--only-binary=:all:",
                "-r",
                str(requirement),
                "-d",
                str(cache),
            )
        else:
            _pip(
                "download",
                "--no-deps",
                "--require-hashes",
                "--no-binary=:all:",
                "-r",
                str(requirement),
                "-d",
                str(work / "sdist"),
            )
            (sdist,) = (work / "sdist").iterdir()
            env = dict(os.environ, CC="/bin/false")
            _pip("wheel", "--no-deps", "-w", str(cache), str(sdist), env=env)
    wheel = _cached(cache, name, version)
    if wheel is None:
        raise SystemExit(f"lane_wheels: no pure wheel for {name}=={version} in {cache}")
    return wheel


def fetch_all(cache: Path = DEFAULT_CACHE, *, lane: bool = True) -> list[Path]:
    """Wheels for the runtime closure (and, with ``lane``, the SDK the lane needs)."""
    cache.mkdir(parents=True, exist_ok=True)
    packages = locked_packages()
    names = runtime_closure(packages) + (list(LANE_ONLY) if lane else [])
    return [fetch_wheel(cache, packages[name]) for name in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    for wheel in fetch_all(args.cache):
        print(wheel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
