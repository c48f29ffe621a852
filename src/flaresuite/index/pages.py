"""The pages a directory publishes, assembled from rendered rows.

Per directory ``D`` (a prefix root, or an accelerator directory below it):

* ``D/index.html`` and ``D/index.json``: the project list (PEP 503 / PEP 691 with content type
  ``application/vnd.pypi.simple.v1+json``, API version 1.1);
* ``D/<project>/index.html`` and ``D/<project>/index.json``: one page per project;
* on libtorch prefixes, ``D/index.html`` is a plain listing of the ``libtorch-*`` archives.

An accelerator directory's page shows its own files plus the prefix root's, so
``pip install torch --index-url …/whl/cu126`` also finds dependencies kept once at ``whl/``; the
prefix root's page shows every file of the prefix. Pages carry no timestamp, unlike the
reference: identical inputs must give identical bytes so unchanged pages are never rewritten.

Bodies are built one at a time from :class:`~flaresuite.index.rows.Segment` values and handed
to the caller, which writes and drops each before the next is built.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup

from flaresuite.index import rows
from flaresuite.index.templates import ENVIRONMENT

HTML = "text/html; charset=utf-8"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
"""PEP 691 content type of JSON simple API responses."""
API_VERSION = "1.1"
"""PEP 700 (``versions``, ``size``, ``upload-time``) raised the simple API to 1.1."""
_META = '{"meta":{"api-version":"' + API_VERSION + '"}'


@dataclass(frozen=True, slots=True)
class Page:
    key: str
    body: bytes
    content_type: str


def project_pages(
    project: str, segments: Sequence[rows.Segment], *, html: bool = True, json: bool = True
) -> tuple[bytes, bytes]:
    """A project's PEP 503 HTML page and PEP 691 JSON page (each ``b""`` unless asked for),
    from one pass over its rows.

    Rows are appended to one buffer per page a decompressed chunk at a time: a prefix root
    page may list tens of thousands of files, and is held once, not in copies. The JSON page
    is byte for byte what ``json.dumps(document, separators=(",", ":"), ensure_ascii=False)``
    gives for the whole document."""
    head, tail = _frame(project)
    page = bytearray(head) if html else bytearray()
    versions = sorted(set().union(*(segment.versions for segment in segments)))
    top = f'{_META},"name":{_dump(project)},"versions":{_dump(versions)},"files":['
    document = bytearray(top.encode("utf-8")) if json else bytearray()
    separator = b""
    for segment in segments:
        for chunk in segment.chunks():
            if not chunk:
                continue
            if html:
                page += b"\n".join(chunk[0::2])
                page += b"\n"
            if json:
                document += separator
                document += b",".join(chunk[1::2])
                separator = b","
    if html:
        page += tail
    if json:
        document += b"]}"
    return bytes(page), bytes(document)


def _frame(project: str) -> tuple[bytes, bytes]:
    """The project page template rendered around a marker, split there."""
    page = _render("project_page.html", project=project, rows=Markup(_ROWS))
    head, _, tail = page.partition(_ROWS.encode())
    return head, tail


_ROWS = "\x00rows\x00"
"""Stands for the rows while the frame is rendered; no escaped text can contain a NUL."""


def project_list_html(projects: Iterable[str]) -> bytes:
    return _render("project_list.html", projects=sorted(projects))


def project_list_json(projects: Iterable[str]) -> bytes:
    names = [{"name": name} for name in sorted(projects)]
    return (f'{_META},"projects":{_dump(names)}}}').encode()


def libtorch_listing(urls: Iterable[str]) -> bytes:
    """Link texts keep ``%2B`` as download.pytorch.org's always have."""
    entries = [{"url": url, "text": url.rsplit("/", 1)[-1]} for url in sorted(urls)]
    return _render("libtorch_listing.html", entries=entries)


def _render(template: str, **context: object) -> bytes:
    return ENVIRONMENT.get_template(template).render(**context).encode("utf-8")


def _dump(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
