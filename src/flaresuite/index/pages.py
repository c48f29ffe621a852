"""Turn a selection plus file metadata into the pages a prefix publishes.

Per directory ``D`` (the prefix root and each accelerator sub-directory):

* ``D/index.html`` and ``D/index.json``: the project list (PEP 503 / PEP 691);
* ``D/<project>/index.html`` and ``D/<project>/index.json``: one page per project;
* on libtorch prefixes (:func:`render_libtorch`), ``D/index.html`` is a plain listing of the
  ``libtorch-*`` archives.

A directory page shows the files of that directory plus the files at the prefix root, so
``pip install torch --index-url …/whl/cu126`` also finds dependencies kept once at ``whl/``;
the root page shows every file of the prefix. Pages carry no timestamp, unlike the reference:
identical inputs must give identical bytes so that unchanged pages are never rewritten.
"""

from __future__ import annotations

import json
import posixpath
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from flaresuite.index.layout import href_path
from flaresuite.index.model import NO_METADATA, Distribution, FileMetadata, SourceObject
from flaresuite.index.selection import Selection
from flaresuite.index.templates import ENVIRONMENT

HTML = "text/html; charset=utf-8"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
"""PEP 691 content type of JSON simple API responses."""
API_VERSION = "1.1"
"""PEP 700 (``versions``, ``size``, ``upload-time``) raised the simple API to 1.1."""


@dataclass(frozen=True, slots=True)
class Page:
    key: str
    body: bytes
    content_type: str
    is_listing: bool = False
    """A directory's project list or archive listing: it links to other pages."""


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


def render_prefix(
    selection: Selection,
    metadata: Mapping[str, FileMetadata],
    *,
    with_hashes: bool,
) -> Iterator[Page]:
    """All PEP 503/691 pages of a wheel prefix. ``metadata`` is keyed by object key;
    ``with_hashes`` is false on nightly, where a CDN may serve an older build under the same
    name as a fresh hash (test-infra#6307)."""
    by_directory: dict[str, list[Distribution]] = defaultdict(list)
    for dist in selection.distributions:
        by_directory[dist.subdir].append(dist)
    root = by_directory.get(selection.prefix, [])
    directories = set(selection.directories)
    if selection.distributions:
        directories.add(selection.prefix)
    # Root files appear on every directory's pages: describe each file once.
    entries = {
        dist.obj.key: _file_entry(dist, metadata.get(dist.obj.key, NO_METADATA), with_hashes)
        for dist in selection.distributions
    }
    for directory in sorted(directories):
        scope = (
            selection.distributions
            if directory == selection.prefix
            else (root + by_directory.get(directory, []))
        )
        yield from _directory_pages(directory, scope, entries)


def _directory_pages(
    directory: str, scope: Sequence[Distribution], entries: Mapping[str, FileEntry]
) -> Iterator[Page]:
    projects: dict[str, list[FileEntry]] = defaultdict(list)
    for dist in scope:
        projects[dist.name.project].append(entries[dist.obj.key])
    for project in sorted(projects):
        files = sorted(projects[project], key=lambda entry: entry.url)
        base = f"{directory}/{project}/index"
        yield Page(base + ".html", _html("project_page.html", project=project, files=files), HTML)
        yield Page(base + ".json", _project_json(project, files), SIMPLE_JSON)
    names = sorted(projects)
    yield Page(f"{directory}/index.html", _html("project_list.html", projects=names), HTML, True)
    yield Page(f"{directory}/index.json", _project_list_json(names), SIMPLE_JSON, True)


def _file_entry(dist: Distribution, meta: FileMetadata, with_hashes: bool) -> FileEntry:
    return FileEntry(
        filename=dist.name.filename,
        url=href_path(dist.obj.key),
        version=str(dist.name.version),
        size=dist.obj.size,
        sha256=meta.sha256 if with_hashes else None,
        core_metadata_sha256=meta.core_metadata_sha256,
        requires_python=meta.requires_python,
        upload_time=_upload_time(dist.obj.last_modified),
    )


def _upload_time(when: datetime | None) -> str | None:
    if when is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _html(template: str, **context: object) -> bytes:
    return ENVIRONMENT.get_template(template).render(**context).encode("utf-8")


def _json(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _project_list_json(names: Sequence[str]) -> bytes:
    return _json({"meta": {"api-version": API_VERSION}, "projects": [{"name": n} for n in names]})


def _project_json(project: str, files: Sequence[FileEntry]) -> bytes:
    """PEP 691 project detail with PEP 700 ``versions``/``size``/``upload-time`` and the
    PEP 714 ``core-metadata`` key (plus the older ``dist-info-metadata`` for old clients)."""
    documents = []
    for entry in files:
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
        documents.append(document)
    versions = sorted({entry.version for entry in files})
    return _json(
        {
            "meta": {"api-version": API_VERSION},
            "name": project,
            "versions": versions,
            "files": documents,
        }
    )


def render_libtorch(listing: Mapping[str, Sequence[SourceObject]]) -> Iterator[Page]:
    """One listing per directory of a libtorch prefix; sub-directories do not repeat the root's
    archives. An empty directory still gets its (empty) listing, so a stale listing never
    outlives its files. Link texts keep ``%2B`` as download.pytorch.org's always have."""
    for directory in sorted(listing):
        urls = sorted(href_path(obj.key) for obj in listing[directory])
        entries = [{"url": url, "text": posixpath.basename(url)} for url in urls]
        yield Page(
            f"{directory}/index.html", _html("libtorch_listing.html", entries=entries), HTML, True
        )
