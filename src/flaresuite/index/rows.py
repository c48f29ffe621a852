"""One file as a project page shows it: its HTML anchor (PEP 503) and its PEP 691 JSON entry.

Each is rendered once per file per run, with an f-string and MarkupSafe's ``escape`` (what the
jinja2 templates' autoescaping calls), and then reused: a root wheel appears on every
accelerator directory's page and on the prefix root page. ``tests/index/test_rows.py`` proves
the anchors byte-identical to the jinja2 row template they replace; the per-row engine cost was
a tenth of a million-key build.

Rendered rows are kept between pages as :class:`Segment` values: one directory's rows of one
project, HTML anchor and JSON entry interleaved line by line and zlib-compressed, so the hashes
that appear in both compress once. A few dozen bytes per file let the prefix root page, which
lists every file of every directory, be assembled without keeping rows or pages in memory.
"""

from __future__ import annotations

import functools
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from markupsafe import escape


class FileEntry(NamedTuple):
    """One file as rendered on a project page."""

    filename: str
    url: str
    version: str
    size: int
    sha256: str | None
    core_metadata_sha256: str | None
    requires_python: str | None
    upload_time: str | None


def upload_time(modified: str) -> str | None:
    """PEP 700 ``upload-time`` (``2025-01-03T12:30:00Z``, seconds precision) from a UTC ISO
    8601 LastModified (:attr:`~flaresuite.index.model.SourceObject.modified`)."""
    return modified[:19] + "Z" if modified else None


_PLAIN = re.compile(r"[^\x00-\x1f\"'<>&\\]*")
"""Text that neither HTML nor JSON escapes: file names, URLs and hashes nearly always are."""


def html_row(entry: FileEntry, plain: bool | None = None) -> str:
    """The PEP 503 anchor, one line. ``data-dist-info-metadata`` (PEP 658) and
    ``data-core-metadata`` (PEP 714) carry the same digest because older pip reads only the
    first; ``data-upload-time`` is what uv's ``exclude-newer`` reads. ``plain``: whether
    :func:`is_plain`, when the caller knows."""
    plain = is_plain(entry) if plain is None else plain
    href = entry.url if plain else escape(entry.url)
    if entry.sha256:
        href += "#sha256=" + (entry.sha256 if plain else escape(entry.sha256))
    attributes = ""
    if entry.core_metadata_sha256:
        digest = entry.core_metadata_sha256 if plain else escape(entry.core_metadata_sha256)
        attributes = (
            f' data-dist-info-metadata="sha256={digest}" data-core-metadata="sha256={digest}"'
        )
    if entry.requires_python:
        attributes += f' data-requires-python="{_escaped(entry.requires_python)}"'
    if entry.upload_time:
        upload = entry.upload_time if plain else escape(entry.upload_time)
        attributes += f' data-upload-time="{upload}"'
    filename = entry.filename if plain else escape(entry.filename)
    return f'    <a href="{href}"{attributes}>{filename}</a><br/>\n'


def json_file(entry: FileEntry, plain: bool | None = None) -> str:
    """The PEP 691 file entry with PEP 700 ``size``/``upload-time`` and the PEP 714
    ``core-metadata`` key (plus the older ``dist-info-metadata`` for old clients). Byte for
    byte ``json.dumps(document, separators=(",", ":"), ensure_ascii=False)``."""
    if not (is_plain(entry) if plain is None else plain):
        return _dumps(_document(entry))
    hashes = f'{{"sha256":"{entry.sha256}"}}' if entry.sha256 else "{}"
    core = f'{{"sha256":"{entry.core_metadata_sha256}"}}' if entry.core_metadata_sha256 else "false"
    text = (
        f'{{"filename":"{entry.filename}","url":"{entry.url}","hashes":{hashes},'
        f'"core-metadata":{core},"dist-info-metadata":{core},"size":{entry.size}'
    )
    if entry.requires_python:
        text += f',"requires-python":{_json_string(entry.requires_python)}'
    if entry.upload_time:
        text += f',"upload-time":"{entry.upload_time}"'
    return text + "}"


def _document(entry: FileEntry) -> dict[str, object]:
    core_metadata: dict[str, str] | bool = (
        {"sha256": entry.core_metadata_sha256} if entry.core_metadata_sha256 else False
    )
    document: dict[str, object] = {
        "filename": entry.filename,
        "url": entry.url,
        "hashes": {"sha256": entry.sha256} if entry.sha256 else {},
        "core-metadata": core_metadata,
        "dist-info-metadata": core_metadata,
        "size": entry.size,
    }
    if entry.requires_python:
        document["requires-python"] = entry.requires_python
    if entry.upload_time:
        document["upload-time"] = entry.upload_time
    return document


def is_plain(entry: FileEntry) -> bool:
    """Whether no field but Requires-Python needs escaping in HTML or JSON."""
    text = (
        f"{entry.filename}{entry.url}{entry.sha256 or ''}"
        f"{entry.core_metadata_sha256 or ''}{entry.upload_time or ''}"
    )
    return _PLAIN.fullmatch(text) is not None


@functools.lru_cache(maxsize=1024)
def _escaped(text: str) -> str:
    """HTML-escaped Requires-Python: a bucket holds a few dozen distinct values."""
    return str(escape(text))


@functools.lru_cache(maxsize=1024)
def _json_string(text: str) -> str:
    return _dumps(text)


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


COMPRESSION = 1
"""zlib's fastest level: rows compress about 7:1 at it, at a fraction of the default's CPU."""
CHUNK = 256
"""Rows compressed (or split after decompression) at a time: a directory's segment is never
held uncompressed as a whole."""


@dataclass(frozen=True, slots=True)
class Segment:
    """Rendered rows of files that sort together on a page, in URL order: one HTML anchor line
    and one JSON entry line per file, zlib-compressed (or not, for the few root files).

    ``sort_key`` places the segment among others: a directory's files all start with the same
    URL path, so one key orders them as a block (see :func:`in_page_order`)."""

    sort_key: str
    versions: frozenset[str]
    blob: bytes
    compressed: bool = True

    @classmethod
    def of(
        cls,
        sort_key: str,
        entries: Iterable[FileEntry],
        *,
        compress: bool = True,
        plain: bool | None = None,
    ) -> Segment:
        """``plain``: whether every entry :func:`is_plain`, when the caller knows it."""
        versions = set()
        compressor = zlib.compressobj(COMPRESSION)
        parts: list[bytes] = []
        lines: list[str] = []
        for entry in sorted(entries, key=lambda e: e.url):
            simple = is_plain(entry) if plain is None else plain
            lines.append(html_row(entry, simple))
            lines.append(json_file(entry, simple) + "\n")
            versions.add(entry.version)
            if len(lines) >= 2 * CHUNK:
                parts.append(_pack("".join(lines), compressor if compress else None))
                lines.clear()
        parts.append(_pack("".join(lines), compressor if compress else None))
        if compress:
            parts.append(compressor.flush())
        return cls(sort_key, frozenset(versions), b"".join(parts), compress)

    def lines(self) -> Iterator[tuple[bytes, bytes]]:
        """``(html_anchor, json_entry)`` per file, each without its newline."""
        for chunk in self.chunks():
            yield from zip(chunk[0::2], chunk[1::2], strict=True)

    def chunks(self) -> Iterator[list[bytes]]:
        """The lines, anchor and entry alternating, a decompressed chunk at a time."""
        if not self.compressed:
            yield self.blob.split(b"\n")[:-1]
            return
        decompressor = zlib.decompressobj()
        pending = b""
        view = memoryview(self.blob)
        for start in range(0, len(self.blob), 64 * 1024):
            data = pending + decompressor.decompress(view[start : start + 64 * 1024])
            lines = data.split(b"\n")
            usable = len(lines) - 1 - (len(lines) - 1) % 2  # whole pairs only
            yield lines[:usable]
            pending = b"\n".join(lines[usable:])
        yield (pending + decompressor.flush()).split(b"\n")[:-1]


def _pack(text: str, compressor: zlib._Compress | None) -> bytes:
    data = text.encode("utf-8")
    return compressor.compress(data) if compressor is not None else data


def in_page_order(segments: Iterable[Segment]) -> list[Segment]:
    return sorted(segments, key=lambda segment: segment.sort_key)
