"""Which listed files a directory publishes.

Rules (reference: PyTorch's ``manage.py`` and ``manage_v2.py``, see ``docs/index-builder.md``):

* a distribution (``.whl``, ``.tar.gz``, ``.zip``, ``-variants.json``) whose file name is valid
  is listed; one that no format allows is *rejected* and reported, never published;
* a ``<file>.metadata`` key next to it is its PEP 658 sidecar;
* in allow-listed prefixes (``ALLOW_LIST_PREFIXES``) only allow-listed projects are shown;
* on ``whl/nightly`` only the ``keep`` newest distinct public versions of each project across
  the whole prefix are shown (every file of a kept version stays): see :class:`Retention`.

Files that are not shown are *hidden* and counted; a hidden file whose name could be told
from a name seen before is not parsed further (so it is never reported as rejected either).
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from packaging.utils import NormalizedName
from packaging.version import Version

from flaresuite.index.layout import (
    ACCEPTED_SUFFIXES,
    CORE_METADATA_SUFFIX,
    basename,
    is_distribution,
)
from flaresuite.index.model import Distribution, SourceObject
from flaresuite.index.names import DistributionName, InvalidDistributionName, NameParser

LIBTORCH_ARCHIVE = re.compile(r"libtorch-[A-Za-z0-9._+-]+(?:\.zip|\.tar\.gz)")
"""A libtorch archive name. Its version is not parsed (nightly archives are ``…-latest.zip``),
but a name that would need escaping beyond ``+`` in a URL is refused like any other."""


@dataclass(slots=True)
class Selection:
    distributions: list[Distribution] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    """``(key, reason)`` for distribution-looking keys whose names no format allows."""
    hidden: int = 0
    """Files left out by the allow list or nightly retention."""


@dataclass(frozen=True, slots=True)
class Policy:
    allow_list: frozenset[NormalizedName] | None = None
    """Projects shown, or ``None`` when the prefix publishes every project."""
    kept: Mapping[NormalizedName, frozenset[Version]] | None = None
    """Nightly retention's verdict: the public versions shown per project, or ``None``."""

    def shows(self, project: NormalizedName, public_version: Version) -> bool:
        if self.allow_list is not None and project not in self.allow_list:
            return False
        if self.kept is not None:
            return public_version in self.kept.get(project, ())
        return True


def select(objects: Iterable[SourceObject], parser: NameParser, policy: Policy) -> Selection:
    """Classify one directory's files (already limited to that directory)."""
    selection = Selection()
    sidecars: dict[str, SourceObject] = {}
    candidates: list[tuple[SourceObject, DistributionName]] = []
    beside: dict[int, SourceObject] = {}
    """candidate index -> sidecar listed right after it: the usual order in a sorted listing,
    found without building a key for each sidecar."""
    # Nightly retention hides most of what a nightly directory lists: most of those need no
    # parsing to say so. Elsewhere nearly everything is shown, and a peek would be wasted.
    peek = policy.kept is not None
    last, shown = "", False
    """The last distribution listed, and whether it is shown."""
    for obj in objects:
        key = obj.key
        if key.endswith(CORE_METADATA_SUFFIX):
            if len(key) == len(last) + len(CORE_METADATA_SUFFIX) and key.startswith(last):
                if shown:
                    beside[len(candidates) - 1] = obj
            else:
                sidecars[key[: -len(CORE_METADATA_SUFFIX)]] = obj
        elif key.endswith(ACCEPTED_SUFFIXES):
            last, shown = key, False
            filename = key.rpartition("/")[2]
            if peek:
                peeked = parser.peek(filename)
                if peeked is not None and not policy.shows(*peeked):
                    selection.hidden += 1
                    continue
            try:
                name = parser.parse(filename)
            except InvalidDistributionName as error:
                selection.rejected.append((key, str(error)))
                continue
            if policy.shows(name.project, name.public_version):
                candidates.append((obj, name))
                shown = True
            else:
                selection.hidden += 1
    selection.distributions = [
        Distribution(obj, name, beside.get(index) or sidecars.get(obj.key))
        for index, (obj, name) in enumerate(candidates)
    ]
    return selection


def select_archives(objects: Iterable[SourceObject]) -> tuple[list[SourceObject], list[str]]:
    """A libtorch directory's ``libtorch-*`` archives, and the keys of archives refused for
    their names. Nothing else of the directory is listed."""
    archives, rejected = [], []
    for obj in objects:
        name = basename(obj.key)
        if not (is_distribution(obj.key) and name.startswith("libtorch-")):
            continue
        if LIBTORCH_ARCHIVE.fullmatch(name):
            archives.append(obj)
        else:
            rejected.append(obj.key)
    return archives, rejected


class Retention:
    """Nightly retention across a whole prefix: allow-listed projects' ``keep`` newest distinct
    public versions (local labels ignored, so ``+cpu`` and ``+cu126`` builds of one nightly
    count once), as PyTorch's ``nightly_packages_to_show`` does.

    Fed every directory's listing first (:meth:`observe`), then asked for its verdict."""

    def __init__(self, keep: int, allow_list: frozenset[NormalizedName] | None) -> None:
        self._keep = keep
        self._allow_list = allow_list
        self._versions: dict[NormalizedName, set[Version]] = defaultdict(set)

    def observe(
        self, objects: Iterable[SourceObject], parser: NameParser
    ) -> dict[NormalizedName, list[Version]]:
        """Takes one directory's versions into account; returns that directory's newest
        ``keep`` per project, which is all a later run needs to know of it while its listing
        does not change (the newest of a union are among the unions of each part's newest)."""
        found: dict[NormalizedName, set[Version]] = defaultdict(set)
        for obj in objects:
            if obj.key.endswith(CORE_METADATA_SUFFIX) or not is_distribution(obj.key):
                continue
            try:
                name = parser.parse(basename(obj.key))
            except InvalidDistributionName:
                continue
            if self._allow_list is None or name.project in self._allow_list:
                found[name.project].add(name.public_version)
        newest = {p: sorted(v, reverse=True)[: self._keep] for p, v in found.items()}
        self.include(newest)
        return newest

    def include(self, newest: Mapping[NormalizedName, Iterable[Version]]) -> None:
        """Takes a directory's remembered newest versions into account."""
        for project, versions in newest.items():
            self._versions[project].update(versions)

    def kept(self) -> dict[NormalizedName, frozenset[Version]]:
        return {
            project: frozenset(sorted(found, reverse=True)[: self._keep])
            for project, found in self._versions.items()
        }


def retention_digest(kept: Mapping[NormalizedName, frozenset[Version]]) -> str:
    """A digest of retention's verdict: when it changes, every nightly directory's pages may."""
    digest = hashlib.sha256()
    for project in sorted(kept):
        digest.update(project.encode())
        for version in sorted(kept[project]):
            digest.update(b"\0" + str(version).encode())
        digest.update(b"\n")
    return digest.hexdigest()
