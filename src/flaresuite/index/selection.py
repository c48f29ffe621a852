"""Which listed files a prefix publishes, and in which directory pages.

Rules (reference: PyTorch's ``manage.py``, see ``docs/index-builder.md``):

* a distribution directly in the prefix or in an accelerator sub-directory is listed;
* a ``<file>.metadata`` key next to it is its PEP 658 sidecar;
* on ``whl/nightly`` only allow-listed projects are shown, and of each only the
  ``keep`` newest distinct public versions (every file of a kept version stays);
* every accelerator directory that holds any key at all gets an index, even with no
  distribution of its own (PyTorch's test-infra#6411: new directories stayed unindexed).
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from packaging.utils import NormalizedName
from packaging.version import Version

from flaresuite.index.layout import CORE_METADATA_SUFFIX, is_distribution, subdir_of
from flaresuite.index.model import Distribution, SourceObject
from flaresuite.index.names import InvalidDistributionName, parse_distribution_name


@dataclass(slots=True)
class Selection:
    prefix: str
    distributions: list[Distribution] = field(default_factory=list)
    directories: set[str] = field(default_factory=set)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    """``(key, reason)`` for distribution-looking keys whose names no format allows."""
    hidden: int = 0
    """Files dropped by the nightly allow list or retention."""


def select(
    prefix: str,
    objects: Iterable[SourceObject],
    *,
    allow_list: frozenset[NormalizedName] | None = None,
    keep: int | None = None,
) -> Selection:
    """Classify a prefix's listing. ``allow_list``/``keep`` are given for nightly prefixes only."""
    selection = Selection(prefix=prefix)
    candidates: list[Distribution] = []
    sidecars: dict[str, SourceObject] = {}
    for obj in objects:
        subdir = subdir_of(obj.key, prefix)
        if subdir is None:
            continue
        selection.directories.add(subdir)
        if obj.key.endswith(CORE_METADATA_SUFFIX):
            sidecars[obj.key[: -len(CORE_METADATA_SUFFIX)]] = obj
        elif is_distribution(obj.key):
            try:
                name = parse_distribution_name(obj.key)
            except InvalidDistributionName as error:
                selection.rejected.append((obj.key, str(error)))
                continue
            candidates.append(Distribution(obj=obj, name=name, subdir=subdir))

    if allow_list is not None or keep is not None:
        shown = _nightly_filter(candidates, allow_list, keep)
        selection.hidden = len(candidates) - len(shown)
        candidates = shown

    selection.distributions = [
        Distribution(obj=d.obj, name=d.name, subdir=d.subdir, sidecar=sidecars.get(d.obj.key))
        for d in candidates
    ]
    return selection


def select_archives(prefix: str, objects: Iterable[SourceObject]) -> dict[str, list[SourceObject]]:
    """A libtorch prefix's archives by directory. Only ``libtorch-*`` names are listed, and
    their names are not parsed: nightly archives are called ``…-latest.zip``, which is no
    PEP 440 version. Every directory holding any key appears, possibly with no archive."""
    listing: dict[str, list[SourceObject]] = {}
    for obj in objects:
        subdir = subdir_of(obj.key, prefix)
        if subdir is None:
            continue
        archives = listing.setdefault(subdir, [])
        if is_distribution(obj.key) and posixpath.basename(obj.key).startswith("libtorch-"):
            archives.append(obj)
    return listing


def _nightly_filter(
    candidates: list[Distribution],
    allow_list: frozenset[NormalizedName] | None,
    keep: int | None,
) -> list[Distribution]:
    """Keep allow-listed projects' ``keep`` newest distinct public versions across the whole
    prefix (all accelerator directories together), as PyTorch's nightly retention does."""
    if allow_list is not None:
        candidates = [d for d in candidates if d.name.project in allow_list]
    if keep is None:
        return candidates
    versions: dict[NormalizedName, set[Version]] = defaultdict(set)
    for d in candidates:
        versions[d.name.project].add(d.name.public_version)
    kept = {project: set(sorted(found, reverse=True)[:keep]) for project, found in versions.items()}
    return [d for d in candidates if d.name.public_version in kept[d.name.project]]
