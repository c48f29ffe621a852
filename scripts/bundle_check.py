"""Bundle every Worker in wrangler.toml with ``pywrangler deploy --dry-run`` and check it.

For the top-level Worker (the index builder, bundled as ``dist/index``) and each
``[env.<name>]`` section (``dist/<name>``, with ``--env <name>``) this runs
``pywrangler deploy --dry-run --outdir dist/<worker>`` offline: ``python_modules/`` must be
vendored first (``scripts/setup_lane.sh``), and ``npx`` finds wrangler and Node 22 in
``node_modules/.bin``. A bundle passes when it holds every module under ``src/`` and the
vendored packages, nothing from ``tests/``, and its compressed size fits the free plan's
limit on a Worker's size (3 MB after compression; 10 MB on the paid plan). Sizes go to
``dist/bundle-sizes.json``.

Usage: ``uv run python scripts/bundle_check.py [WORKER ...]``; exit status 1 if any fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
TOP_LEVEL = "index"
"""The name the top-level Worker's bundle gets under dist/."""
REQUIRED_VENDORED = ("jinja2", "markupsafe", "packaging", "segno", "workers")
"""What the Workers import beyond src/: every Worker gets the same python_modules/."""
GZIP_BUDGET_KIB = 3 * 1024
"""Cloudflare's Worker size limit on the free plan, measured after compression, as wrangler
prints it (``gzip: ... KiB``)."""


@dataclass(frozen=True)
class Bundle:
    worker: str
    files: int
    bytes: int
    upload_kib: float | None
    gzip_kib: float | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def workers(config_path: Path = ROOT / "wrangler.toml") -> dict[str, str | None]:
    """``{bundle name: --env value}`` for every Worker the config declares."""
    config = tomllib.loads(config_path.read_text())
    found: dict[str, str | None] = {TOP_LEVEL: None}
    for name, section in config.get("env", {}).items():
        if "main" in section:
            found[name] = name
    return found


def _pywrangler() -> list[str]:
    beside = Path(sys.executable).with_name("pywrangler")
    return [str(beside)] if beside.exists() else ["uv", "run", "pywrangler"]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    # Node 22 and wrangler from npm ci, ahead of the system's Node 20.
    env["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{env.get('PATH', '')}"
    env["WRANGLER_SEND_METRICS"] = "false"
    env["NO_COLOR"] = "1"
    return env


def _problems(outdir: Path) -> list[str]:
    problems = []
    bundled = {p.relative_to(outdir).as_posix() for p in outdir.rglob("*") if p.is_file()}
    ours = sorted(
        p.relative_to(ROOT / "src").as_posix()
        for p in (ROOT / "src").rglob("*.py")
        if "__pycache__" not in p.parts
    )
    problems += [f"missing module {m}" for m in ours if m not in bundled]
    for package in REQUIRED_VENDORED:
        if f"python_modules/{package}/__init__.py" not in bundled:
            problems.append(f"missing vendored package {package}")
    leaked = [
        path
        for path in bundled
        if path.startswith("tests/")
        or (
            not path.startswith("python_modules/")
            and (Path(path).name.startswith("test_") or Path(path).name == "conftest.py")
        )
    ]
    problems += [f"test file in bundle: {path}" for path in sorted(leaked)]
    return problems


def _kib(pattern: str, output: str) -> float | None:
    match = re.search(pattern, output)
    return float(match.group(1)) if match else None


def check(worker: str, env_name: str | None) -> Bundle:
    if not (ROOT / "python_modules" / ".synced").exists():
        raise SystemExit("bundle_check: python_modules/ is not vendored: run scripts/setup_lane.sh")
    outdir = DIST / worker
    # A stale file from an earlier bundle must not pass (or fail) this one.
    shutil.rmtree(outdir, ignore_errors=True)
    command = [*_pywrangler(), "deploy", "--dry-run", "--outdir", str(outdir)]
    if env_name is not None:
        command += ["--env", env_name]
    result = subprocess.run(
        command, cwd=ROOT, env=_environment(), capture_output=True, text=True, timeout=300
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        return Bundle(
            worker, 0, 0, None, None, (f"pywrangler exited {result.returncode}:\n{output}",)
        )
    files = [p for p in outdir.rglob("*") if p.is_file()]
    gzip_kib = _kib(r"gzip: ([\d.]+) KiB", output)
    problems = _problems(outdir)
    if gzip_kib is None:
        problems.append("wrangler printed no compressed size")
    elif gzip_kib > GZIP_BUDGET_KIB:
        problems.append(f"{gzip_kib} KiB compressed, over the {GZIP_BUDGET_KIB} KiB budget")
    return Bundle(
        worker=worker,
        files=len(files),
        bytes=sum(p.stat().st_size for p in files),
        upload_kib=_kib(r"Total Upload: ([\d.]+) KiB", output),
        gzip_kib=gzip_kib,
        problems=tuple(problems),
    )


def record(bundles: list[Bundle]) -> Path:
    path = DIST / "bundle-sizes.json"
    existing = json.loads(path.read_text()) if path.exists() else {}
    for bundle in bundles:
        existing[bundle.worker] = {k: v for k, v in asdict(bundle).items() if k != "problems"}
    DIST.mkdir(exist_ok=True)
    path.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")
    return path


def main(argv: list[str]) -> int:
    declared = workers()
    unknown = [name for name in argv if name not in declared]
    if unknown:
        print(
            f"bundle_check: unknown worker(s) {unknown}; declared: {sorted(declared)}",
            file=sys.stderr,
        )
        return 2
    bundles = [check(name, declared[name]) for name in (argv or declared)]
    record(bundles)
    for bundle in bundles:
        size = f"{bundle.upload_kib} KiB (gzip {bundle.gzip_kib} KiB), {bundle.files} files"
        print(f"{bundle.worker}: {'ok' if bundle.ok else 'FAILED'}: {size}")
        for problem in bundle.problems:
            print(f"  {problem}")
    return 0 if all(b.ok for b in bundles) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
