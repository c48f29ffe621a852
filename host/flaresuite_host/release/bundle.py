"""``flaresuite release bundle``: build a Worker with ``pywrangler deploy --dry-run`` and pack
its output into a deterministic archive.

One ``wrangler.toml`` holds every Worker: the index builder at the top level and the others as
``[env.<worker>]`` sections. ``pywrangler deploy --dry-run --outdir dist/<worker>`` writes the
entry module, the other modules beside it and the vendored ``python_modules/`` without
deploying anything. Those modules are the same for every Worker of the project (wrangler
attaches everything beside the entry module), so we add a manifest, ``flaresuite-bundle.json``,
naming the Worker, its script name, entry module and compatibility settings. The directory and
the manifest are packed into ``dist/<worker>.tar.gz``, whose sha256 is recorded in
``dist/<worker>.tar.gz.sha256`` (``sha256sum`` format, so ``sha256sum -c`` checks it).
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shutil
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flaresuite_host.release.archive import deterministic_tar_gz
from flaresuite_host.release.errors import ReleaseError, ReleaseSetupError
from flaresuite_host.release.fingerprint import Fingerprint, check_size, fingerprint

WRANGLER_CONFIG = "wrangler.toml"
DIST_DIR = "dist"
TOP_LEVEL_WORKER = "index"
"""The name by which the Worker at the top level of ``wrangler.toml`` (the index builder) is
bundled; every other name must be an ``[env.<name>]`` section."""

WORKER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\Z")
"""Worker names become paths under ``dist/``: no separators, no dot-dot."""

WRANGLER_README = "README.md"
"""Wrangler writes this file into every ``--outdir`` with the build time in it; it is not part
of the Worker, and keeping it would make every archive different."""

MANIFEST = "flaresuite-bundle.json"
"""The archive member naming the Worker, its entry module and runtime settings."""

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True, slots=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


Runner = Callable[[Sequence[str], Path], CommandResult]
"""Runs ``argv`` with the given working directory, waits for it, and returns its output.
Raises :class:`ReleaseSetupError` when the program is not installed."""


@dataclass(frozen=True, slots=True)
class Bundle:
    worker: str
    archive: Path
    fingerprint: Fingerprint
    files: int
    """Members of the archive."""


def bundle_worker(project_root: Path, worker: str, run: Runner) -> Bundle:
    """Builds ``worker`` from ``project_root/wrangler.toml`` and writes its archive and
    checksum file under ``project_root/dist/``."""
    check_worker_name(worker)
    config = read_wrangler_config(project_root)
    target = worker_target(config, worker)
    outdir = Path(DIST_DIR, worker)
    archive = project_root / archive_name(worker)
    # A failed build must not leave an older archive behind for `upload` to pick up, and
    # files from an earlier build must not leak into this one.
    archive.unlink(missing_ok=True)
    checksum_file(archive).unlink(missing_ok=True)
    shutil.rmtree(project_root / outdir, ignore_errors=True)

    argv = ["pywrangler", "deploy", "--dry-run", "--outdir", outdir.as_posix(), *target.env_args]
    result = run(argv, project_root)
    if result.returncode != 0:
        output = result.stderr.strip() or result.stdout.strip()
        raise ReleaseError(
            f"`{' '.join(argv)}` failed with exit status {result.returncode}:\n"
            + ANSI_ESCAPE.sub("", output)
        )
    entry = outdir / posixpath.basename(target.main)
    if not (project_root / entry).is_file():
        raise ReleaseError(
            f"Bundle not created at {entry.as_posix()}: `{' '.join(argv)}` exited 0 "
            f"without writing the entry module named by `main` ({target.main})"
        )

    files = collect_files(project_root / outdir)
    if MANIFEST in files:
        raise ReleaseSetupError(
            f"{outdir.as_posix()}/{MANIFEST} exists: the name is reserved for "
            "the bundle's manifest; rename that file"
        )
    files[MANIFEST] = target.manifest()
    data = deterministic_tar_gz(files)
    identity = fingerprint(data)
    check_size(identity, f"the bundle of {worker!r}")
    archive.write_bytes(data)
    checksum_file(archive).write_text(f"{identity.sha256}  {archive.name}\n", encoding="ascii")
    return Bundle(worker=worker, archive=archive, fingerprint=identity, files=len(files))


def check_worker_name(worker: str) -> None:
    if not WORKER_NAME.match(worker):
        raise ReleaseSetupError(
            f"invalid Worker name {worker!r}: use letters, digits, '-' and '_' "
            f"({TOP_LEVEL_WORKER!r} or an [env.<name>] section of {WRANGLER_CONFIG})"
        )


def read_wrangler_config(project_root: Path) -> dict[str, Any]:
    path = project_root / WRANGLER_CONFIG
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReleaseSetupError(
            f"{WRANGLER_CONFIG} not found in project root ({project_root})"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ReleaseSetupError(f"cannot read {path}: {error}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ReleaseSetupError(f"{path} is not valid TOML: {error}") from None


@dataclass(frozen=True, slots=True)
class WorkerTarget:
    """One Worker of ``wrangler.toml``, resolved the way wrangler resolves an environment."""

    worker: str
    env_args: tuple[str, ...]
    """Selects the Worker on pywrangler's command line."""
    script_name: str
    main: str
    compatibility_date: str
    compatibility_flags: tuple[str, ...]

    def manifest(self) -> bytes:
        """What a deployment needs besides the modules, which are the same files for every
        Worker of the project: the script name, the entry module and the runtime settings.
        Stored in the archive as :data:`MANIFEST`, so each Worker's bundle says what it is."""
        document = {
            "worker": self.worker,
            "script_name": self.script_name,
            "main_module": posixpath.basename(self.main),
            "compatibility_date": self.compatibility_date,
            "compatibility_flags": list(self.compatibility_flags),
        }
        return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")


def worker_target(config: Mapping[str, Any], worker: str) -> WorkerTarget:
    """Resolves ``worker`` in ``wrangler.toml``.

    The top level is selected with ``--env ""``: with environments defined, wrangler warns
    unless the target is explicit. ``main`` and the compatibility settings are inheritable,
    so an environment may omit them; an environment without ``name`` is deployed as
    ``<top-level name>-<env>``, as wrangler names it
    (https://developers.cloudflare.com/workers/wrangler/environments/).
    """
    environments = config.get("env") or {}
    if not isinstance(environments, Mapping):
        raise ReleaseSetupError(
            f"{WRANGLER_CONFIG}: `env` must be a table of [env.<name>] sections"
        )
    top_name = str(config.get("name", ""))
    if worker in environments and isinstance(environments[worker], Mapping):
        section = {**config, **environments[worker]}
        env_args = ("--env", worker)
        script_name = str(environments[worker].get("name") or f"{top_name}-{worker}")
    elif worker == TOP_LEVEL_WORKER:
        section = dict(config)
        env_args = ("--env", "")
        script_name = top_name
    else:
        known = ", ".join([TOP_LEVEL_WORKER, *sorted(environments)])
        raise ReleaseSetupError(
            f"unknown Worker {worker!r}: {WRANGLER_CONFIG} defines {known} "
            f"({TOP_LEVEL_WORKER!r} is its top level)"
        )
    main = section.get("main")
    if not isinstance(main, str) or not main:
        raise ReleaseSetupError(f"{WRANGLER_CONFIG} names no `main` module for Worker {worker!r}")
    return WorkerTarget(
        worker=worker,
        env_args=env_args,
        script_name=script_name,
        main=main,
        compatibility_date=str(section.get("compatibility_date", "")),
        compatibility_flags=tuple(section.get("compatibility_flags", ())),
    )


def collect_files(outdir: Path) -> dict[str, bytes]:
    """Every file under ``outdir`` by relative POSIX path, without wrangler's README."""
    files: dict[str, bytes] = {}
    for directory, _, names in os.walk(outdir):
        for name in names:
            path = Path(directory, name)
            relative = path.relative_to(outdir).as_posix()
            if relative != WRANGLER_README:
                files[relative] = path.read_bytes()
    return files


def archive_name(worker: str) -> str:
    return f"{DIST_DIR}/{worker}.tar.gz"


def checksum_file(archive: Path) -> Path:
    return archive.with_name(archive.name + ".sha256")


def read_bundle(project_root: Path, worker: str) -> tuple[Path, bytes, Fingerprint]:
    """Loads the archive ``bundle`` wrote for ``worker`` and checks it against its recorded
    sha256, so what is uploaded and described is exactly what was built."""
    check_worker_name(worker)
    archive = project_root / archive_name(worker)
    try:
        data = archive.read_bytes()
        # Undecodable bytes become U+FFFD: such a record can only fail the comparison below.
        record = checksum_file(archive).read_text(encoding="ascii", errors="replace")
        recorded = record.split(maxsplit=1)[0]
    except (FileNotFoundError, IndexError):
        raise ReleaseSetupError(
            f"no bundle at {archive_name(worker)} with its .sha256 file: "
            f"run `flaresuite release bundle {worker}` first"
        ) from None
    except OSError as error:
        raise ReleaseError(
            f"cannot read the bundle {archive_name(worker)} or its .sha256 file ({error}): "
            f"run `flaresuite release bundle {worker}` again"
        ) from None
    identity = fingerprint(data)
    if identity.sha256 != recorded:
        raise ReleaseSetupError(
            f"{archive_name(worker)} changed since it was bundled (sha256 {identity.sha256}, "
            f"recorded {recorded}): run `flaresuite release bundle {worker}` again"
        )
    return archive, data, identity
