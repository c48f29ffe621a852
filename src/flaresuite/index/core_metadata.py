"""PEP 658 core metadata: what the ``.metadata`` sidecar of a wheel says and how it is made.

The sidecar is the wheel's ``*.dist-info/METADATA`` verbatim (PEP 658). Pages advertise its
sha256 and its ``Requires-Python``, which resolvers use to skip wheels they cannot install
without downloading them (uv picked networkx 3.3 on Python 3.9 without it: pytorch#152191).
"""

from __future__ import annotations

import re
import zipfile
from typing import IO

from packaging.specifiers import InvalidSpecifier, SpecifierSet

HEADER_SCAN_LIMIT = 64 * 1024
"""Bytes of a sidecar searched for ``Requires-Python``. Core metadata is an RFC 822 style
header block followed by the long description (core metadata spec, "Metadata-Version 2.1":
the description may be the message body), so the field is near the start; a header block
longer than this is not a metadata file worth trusting."""

_FIELD = re.compile(rb"^requires-python[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)
_HEADER_END = re.compile(rb"\r?\n\r?\n")


class InvalidWheel(ValueError):
    """A file named like a wheel that is not a readable wheel archive."""


def requires_python(metadata: bytes) -> str | None:
    """The ``Requires-Python`` field of a core metadata file, or ``None``.

    A bounded scan of the header block, not the email parser: on a million-key bucket the
    parser cost a quarter of a cold build. Like :func:`packaging.metadata.parse_email`, a field
    given twice counts as absent; a folded value is unfolded. A value that is no valid PEP 440
    specifier set is left out too: installers ignore it, and a page must not promise it."""
    head = metadata[:HEADER_SCAN_LIMIT]
    end = _HEADER_END.search(head)
    if end is not None:
        head = head[: end.start()]
    found = _FIELD.findall(head)
    if len(found) != 1:
        return None
    value: bytes = b" ".join(part.strip() for part in found[0].splitlines())
    text = value.decode("utf-8", "replace").strip()
    if not text:
        return None
    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        return None
    return text


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
