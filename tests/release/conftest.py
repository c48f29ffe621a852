"""A Workers project on disk and a stand-in for ``pywrangler`` that writes what it would."""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from pathlib import Path

import pytest

from flaresuite_host.release.bundle import CommandResult

WRANGLER_TOML = """\
name = "demo-index"
main = "src/index_worker.py"
compatibility_date = "2026-11-01"
compatibility_flags = ["python_workers"]

[env.purge]
name = "demo-purge"
main = "src/purge_worker.py"

[env.glean]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "wrangler.toml").write_text(WRANGLER_TOML)
    (root / "src" / "index_worker.py").write_text("# index entry\n")
    (root / "src" / "purge_worker.py").write_text("# purge entry\n")
    return root


class FakePywrangler:
    """Behaves like ``pywrangler deploy --dry-run --outdir DIR``: copies ``src/*.py`` and a
    vendored ``python_modules/`` into DIR, plus wrangler's README with the build time in it.

    Every call writes the files in a different order, with different mtimes and modes, the
    way two real builds on two machines would.
    """

    def __init__(
        self,
        *,
        returncode: int = 0,
        stdout: str = "",
        stderr: str = "",
        writes: bool = True,
        extra: dict[str, bytes] | None = None,
    ) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr
        self.writes = writes
        self.extra = extra or {}
        self.calls: list[tuple[list[str], Path]] = []

    def __call__(self, argv: Sequence[str], cwd: Path) -> CommandResult:
        self.calls.append((list(argv), cwd))
        if self.writes and self.returncode == 0:
            outdir = cwd / argv[argv.index("--outdir") + 1]
            files = {path.name: path.read_bytes() for path in (cwd / "src").glob("*.py")}
            files["python_modules/jinja2/__init__.py"] = b"__version__ = '3.1.6'\n"
            files["python_modules/pyvenv.cfg"] = b""
            files["README.md"] = f"generated at call {len(self.calls)}".encode()
            files.update(self.extra)
            order = sorted(files, reverse=len(self.calls) % 2 == 0)
            for number, name in enumerate(order):
                path = outdir / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(files[name])
                path.chmod(0o755 if number % 2 else 0o600)
                os.utime(path, (1_000_000 * len(self.calls) + number,) * 2)
        return CommandResult(self.returncode, self.stdout, self.stderr)

    @property
    def commands(self) -> list[str]:
        return [shlex.join(argv) for argv, _ in self.calls]
