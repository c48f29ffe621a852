"""The files of a local tree that an index build covers (CPython only).

The same rule as the builder's listing: files directly in each prefix, and directly in each of
its accelerator directories. Nothing deeper, nothing hidden.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from flaresuite.index.layout import (
    CORE_METADATA_SUFFIX,
    DEFAULT_PREFIXES,
    is_accelerator_directory,
    is_distribution,
)


def indexed_directories(root: Path, prefixes: Iterable[str]) -> Iterator[Path]:
    for prefix in dict.fromkeys(prefixes):
        top = root / prefix if prefix else root
        if not top.is_dir():
            continue
        yield top
        for entry in sorted(os.scandir(top), key=lambda entry: entry.name):
            if entry.is_dir() and is_accelerator_directory(entry.name):
                yield Path(entry.path)


def indexed_files(root: Path, prefixes: Iterable[str]) -> Iterator[Path]:
    """Distributions and their PEP 658 sidecars in the directories a build indexes."""
    for directory in indexed_directories(root, prefixes):
        for entry in sorted(os.scandir(directory), key=lambda entry: entry.name):
            if entry.name.startswith(".") or not entry.is_file():
                continue
            name = entry.name
            stem = (
                name[: -len(CORE_METADATA_SUFFIX)] if name.endswith(CORE_METADATA_SUFFIX) else name
            )
            if is_distribution(stem):
                yield Path(entry.path)


def has_bucket_layout(root: Path) -> bool:
    """Whether ``root`` is laid out like the bucket (``root/whl/…``, ``root/libtorch/…``)
    rather than a plain directory of wheels."""
    return any((root / prefix).is_dir() for prefix in DEFAULT_PREFIXES)
