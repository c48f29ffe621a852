"""Write PEP 658 ``.metadata`` files for the wheels of a local tree (CPython only).

This is what PyTorch's ``whl_metadata_upload_pep658`` Lambda does on each upload: the sidecar is
the wheel's ``METADATA`` verbatim, stored at the wheel's key plus ``.metadata``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from flaresuite.index.core_metadata import extract_core_metadata
from flaresuite.index.layout import CORE_METADATA_SUFFIX
from flaresuite_host.index.tree import indexed_files


def read_core_metadata(wheel: Path) -> bytes:
    """The wheel's ``METADATA``, read from the file's zip directory (never the whole wheel)."""
    with wheel.open("rb") as file:
        return extract_core_metadata(file, wheel.name)


def write_sidecars(root: Path, out: Path, prefixes: Iterable[str]) -> int:
    """Writes missing or stale sidecars of the wheels a build of ``prefixes`` indexes into
    ``out`` at the same relative path; raises
    :class:`~flaresuite.index.core_metadata.InvalidWheel` on a bad wheel. Returns how many were
    written."""
    written = 0
    for wheel in indexed_files(root, prefixes):
        if wheel.suffix == ".whl":
            written += _write_sidecar(root, out, wheel)
    return written


def _write_sidecar(root: Path, out: Path, wheel: Path) -> int:
    relative = wheel.relative_to(root)
    sidecar = out / relative.with_name(relative.name + CORE_METADATA_SUFFIX)
    beside = wheel.with_name(wheel.name + CORE_METADATA_SUFFIX)
    metadata = read_core_metadata(wheel)
    if sidecar != beside and beside.exists():
        return 0  # the source's own sidecar is the one its pages describe
    # PEP 658: the sidecar *is* the wheel's METADATA, so one that differs belongs to a wheel
    # that has since been rebuilt under the same name, and is replaced.
    if sidecar.exists() and sidecar.read_bytes() == metadata:
        return 0
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    sidecar.write_bytes(metadata)
    return 1
