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

import json
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from markupsafe import escape


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file as rendered on a project page."""

    filename: str
    url: str
    version: str
    size: int
    sha256: str | None
    core_metadata_sha256: str | None
    requires_python: str | None
    upload_time: str | None


def upload_time(when: datetime | None) -> str | None:
    """PEP 700 ``upload-time`` (``2025-01-03T12:30:00Z``, seconds precision)."""
    if when is None:
        return None
    if when.utcoffset():
        when = when.astimezone(UTC)
    return when.isoformat()[:19] + "Z"


def html_row(entry: FileEntry) -> str:
    """The PEP 503 anchor, one line. ``data-dist-info-metadata`` (PEP 658) and
    ``data-core-metadata`` (PEP 714) carry the same digest because older pip reads only the
    first; ``data-upload-time`` is what uv's ``exclude-newer`` reads."""
    href = escape(entry.url)
    if entry.sha256:
        href += "#sha256=" + escape(entry.sha256)
    attributes = ""
    if entry.core_metadata_sha256:
        digest = escape(entry.core_metadata_sha256)
        attributes = (
            f' data-dist-info-metadata="sha256={digest}" data-core-metadata="sha256={digest}"'
        )
    if entry.requires_python:
        attributes += f' data-requires-python="{escape(entry.requires_python)}"'
    if entry.upload_time:
        attributes += f' data-upload-time="{escape(entry.upload_time)}"'
    return f'    <a href="{href}"{attributes}>{escape(entry.filename)}</a><br/>\n'


def json_file(entry: FileEntry) -> str:
    """The PEP 691 file entry with PEP 700 ``size``/``upload-time`` and the PEP 714
    ``core-metadata`` key (plus the older ``dist-info-metadata`` for old clients)."""
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
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Segment:
    """Rendered rows of files that sort together on a page, in URL order.

    ``sort_key`` places the segment among others: a directory's files all start with the same
    URL path, so one key orders them as a block (see :func:`page_bodies`)."""

    sort_key: str
    versions: frozenset[str]
    blob: bytes
    compressed: bool = True

    @classmethod
    def of(cls, sort_key: str, entries: Iterable[FileEntry], *, compress: bool = True) -> Segment:
        lines: list[str] = []
        versions = set()
        for entry in sorted(entries, key=lambda e: e.url):
            lines.append(html_row(entry))
            lines.append(json_file(entry) + "\n")
            versions.add(entry.version)
        text = "".join(lines).encode("utf-8")
        return cls(
            sort_key, frozenset(versions), zlib.compress(text) if compress else text, compress
        )

    def rows(self) -> tuple[list[str], list[str]]:
        """``(html_lines, json_entries)``; the HTML lines without their newline."""
        text = (zlib.decompress(self.blob) if self.compressed else self.blob).decode("utf-8")
        lines = text.split("\n")
        return lines[0:-1:2], lines[1:-1:2]


def in_page_order(segments: Iterable[Segment]) -> list[Segment]:
    return sorted(segments, key=lambda segment: segment.sort_key)


def html_rows(segments: Sequence[Segment]) -> Iterator[str]:
    for segment in segments:
        html, _ = segment.rows()
        if html:
            yield "\n".join(html) + "\n"


def json_entries(segments: Sequence[Segment]) -> Iterator[str]:
    for segment in segments:
        _, entries = segment.rows()
        yield from entries
