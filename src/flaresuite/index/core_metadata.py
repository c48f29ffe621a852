"""PEP 658 core metadata: what the ``.metadata`` sidecar of a wheel says and how it is made.

The sidecar is the wheel's ``*.dist-info/METADATA`` verbatim (PEP 658). Pages advertise its
sha256 and its ``Requires-Python``, which resolvers use to skip wheels they cannot install
without downloading them (uv picked networkx 3.3 on Python 3.9 without it: pytorch#152191).
"""

from __future__ import annotations

import zipfile
from typing import IO

from packaging.metadata import parse_email


class InvalidWheel(ValueError):
    """A file named like a wheel that is not a readable wheel archive."""


def requires_python(metadata: bytes) -> str | None:
    """The ``Requires-Python`` field of a core metadata file, or ``None``."""
    raw, _unparsed = parse_email(metadata)
    value = raw.get("requires_python")
    return value.strip() or None if isinstance(value, str) else None


def extract_core_metadata(wheel: IO[bytes], filename: str) -> bytes:
    """The ``METADATA`` file of a wheel's ``.dist-info`` directory (binary distribution format
    spec: exactly one ``{name}-{version}.dist-info`` at the archive root).

    ``wheel`` is a seekable binary file: only the zip directory and that one member are read,
    so a multi-gigabyte wheel is never loaded whole."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            candidates = [
                name
                for name in archive.namelist()
                if name.count("/") == 1 and name.endswith(".dist-info/METADATA")
            ]
            if len(candidates) != 1:
                raise InvalidWheel(
                    f"{filename}: expected one .dist-info/METADATA, found {len(candidates)}"
                )
            return archive.read(candidates[0])
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, KeyError) as error:
        raise InvalidWheel(f"{filename}: not a readable wheel ({error})") from None
