"""PEP 658 core metadata: what the ``.metadata`` sidecar of a wheel says and how it is made.

The sidecar is the wheel's ``*.dist-info/METADATA`` verbatim (PEP 658). Pages advertise its
sha256 and its ``Requires-Python``, which resolvers use to skip wheels they cannot install
without downloading them (uv picked networkx 3.3 on Python 3.9 without it: pytorch#152191).
"""

from __future__ import annotations

import functools
import zipfile
from typing import IO

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from flaresuite.errors import BadInput

HEADER_SCAN_LIMIT = 64 * 1024
"""Bytes of a sidecar searched for ``Requires-Python``. Core metadata is an RFC 822 style
header block followed by the long description (core metadata spec, "Metadata-Version 2.1":
the description may be the message body), so the field is near the start; a header block
longer than this is not a metadata file worth trusting."""

_NAME = b"requires-python"


class InvalidWheel(BadInput, ValueError):
    """A file named like a wheel that is not a readable wheel archive."""


def requires_python(metadata: bytes) -> str | None:
    """The ``Requires-Python`` field of a core metadata file, or ``None``.

    A bounded scan of the header block, not the email parser: on a million-key bucket the
    parser cost a quarter of a cold build. Like :func:`packaging.metadata.parse_email`, field
    names are case-insensitive, a field given twice counts as absent and a folded value is
    unfolded. A value that is no valid PEP 440 specifier set is left out too: installers ignore
    it, and a page must not promise it."""
    head = metadata[:HEADER_SCAN_LIMIT]
    for blank in (b"\n\n", b"\n\r\n"):  # the header block ends at the first empty line
        end = head.find(blank)
        if end >= 0:
            head = head[: end + 1]
    lines = head.lower()
    found = _occurrences(lines, b"\n" + _NAME, 1)
    if lines.startswith(_NAME):
        found.insert(0, 0)
    if len(found) == 1:  # the usual case
        value = _field_value(head, found[0] + len(_NAME))
    else:  # absent, given twice, or the start of a longer field name
        values = [v for at in found if (v := _field_value(head, at + len(_NAME))) is not None]
        value = values[0] if len(values) == 1 else None
    if value is None:
        return None
    text = value.decode("utf-8", "replace").strip()
    return text if text and _is_specifier_set(text) else None


def _occurrences(haystack: bytes, needle: bytes, skip: int) -> list[int]:
    """Where ``needle`` occurs, each position advanced by ``skip``."""
    found, at = [], haystack.find(needle)
    while at >= 0:
        found.append(at + skip)
        at = haystack.find(needle, at + 1)
    return found


def _field_value(head: bytes, after_name: int) -> bytes | None:
    """The value of the header line whose name ends at ``after_name``, folded continuation
    lines included; ``None`` when the name is only the start of a longer one."""
    colon = head.find(b":", after_name)
    end = head.find(b"\n", after_name)
    end = len(head) if end < 0 else end
    if colon < 0 or colon > end or head[after_name:colon].strip(b" \t"):
        return None
    parts = [head[colon + 1 : end].strip()]
    while end + 1 < len(head) and head[end + 1 : end + 2] in (b" ", b"\t"):
        following = head.find(b"\n", end + 1)
        following = len(head) if following < 0 else following
        parts.append(head[end + 1 : following].strip())
        end = following
    return b" ".join(parts)


@functools.lru_cache(maxsize=1024)
def _is_specifier_set(text: str) -> bool:
    """Whole buckets share a few dozen distinct values: each is validated once."""
    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        return False
    return True


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
