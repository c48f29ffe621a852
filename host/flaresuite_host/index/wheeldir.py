"""A directory of wheels as an index source (CPython only: reads the filesystem).

The directory mirrors bucket keys: ``DIR/whl/cu126/torch-….whl`` is key
``whl/cu126/torch-….whl``. A wheel with no ``.metadata`` file beside it gets a virtual one,
extracted from the wheel itself, so local pages carry the same PEP 658 attributes as pages built
from a bucket where a Lambda writes the sidecars.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from flaresuite.index.layout import CORE_METADATA_SUFFIX
from flaresuite.index.model import SourceObject
from flaresuite_host.index.sidecars import read_core_metadata

VIRTUAL_SIDECAR_ETAG = "-core-metadata"


class WheelDirectory:
    def __init__(self, root: Path) -> None:
        self.root = root

    async def list(self, prefix: str) -> AsyncIterator[SourceObject]:
        for path in sorted(self._walk(self.root / prefix)):
            key = path.relative_to(self.root).as_posix()
            stat = path.stat()
            obj = SourceObject(
                key=key,
                size=stat.st_size,
                etag=f"{stat.st_size:x}-{stat.st_mtime_ns:x}",
                last_modified=datetime.fromtimestamp(stat.st_mtime, tz=UTC),
            )
            yield obj
            sidecar = path.with_name(path.name + CORE_METADATA_SUFFIX)
            if key.endswith(".whl") and not sidecar.exists():
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

    @staticmethod
    def _walk(top: Path):
        for directory, _subdirs, files in os.walk(top):
            for name in files:
                yield Path(directory) / name
