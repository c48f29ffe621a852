"""A directory of wheels as an index source (CPython only: reads the filesystem).

The directory mirrors bucket keys: ``DIR/whl/cu126/torch-….whl`` is key
``whl/cu126/torch-….whl``. A wheel with no ``.metadata`` file beside it gets a virtual one,
extracted from the wheel itself, so local pages carry the same PEP 658 attributes (and
Requires-Python) as pages built from a bucket where a Lambda writes the sidecars. Hidden
entries (``.flaresuite-state``, half-written ``.…partial`` files) are never listed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from flaresuite.index.layout import CORE_METADATA_SUFFIX, join
from flaresuite.index.model import SourceObject, Subdirectory
from flaresuite_host.index.sidecars import read_core_metadata

VIRTUAL_SIDECAR_ETAG = "-core-metadata"


class WheelDirectory:
    def __init__(self, root: Path) -> None:
        self.root = root

    async def list_directory(self, directory: str) -> AsyncIterator[SourceObject | Subdirectory]:
        path = self.root / directory if directory else self.root
        if not path.is_dir():
            return
        entries = sorted(
            (entry for entry in os.scandir(path) if not entry.name.startswith(".")),
            key=lambda entry: entry.name,
        )
        names = {entry.name for entry in entries}
        for entry in entries:
            key = join(directory, entry.name)
            if entry.is_dir():
                yield Subdirectory(key)
                continue
            if not entry.is_file():
                continue
            stat = entry.stat()
            obj = SourceObject(
                key=key,
                size=stat.st_size,
                etag=f"{stat.st_size:x}-{stat.st_mtime_ns:x}",
                last_modified=datetime.fromtimestamp(stat.st_mtime, tz=UTC),
            )
            yield obj
            if key.endswith(".whl") and entry.name + CORE_METADATA_SUFFIX not in names:
                yield SourceObject(
                    key=key + CORE_METADATA_SUFFIX,
                    size=0,
                    etag=obj.etag + VIRTUAL_SIDECAR_ETAG,
                    last_modified=obj.last_modified,
                )

    async def sha256(self, obj: SourceObject) -> str | None:
        digest = hashlib.sha256()
        with open(self.root / obj.key, "rb") as file:
            for chunk in iter(lambda: file.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

    async def read(self, obj: SourceObject) -> bytes:
        path = self.root / obj.key
        if obj.etag.endswith(VIRTUAL_SIDECAR_ETAG):
            wheel = path.with_name(path.name[: -len(CORE_METADATA_SUFFIX)])
            return read_core_metadata(wheel)
        return path.read_bytes()

    async def index_page(self, key: str) -> bytes | None:
        path = self.root / key
        return path.read_bytes() if path.is_file() else None
