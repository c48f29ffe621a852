"""Where distributions come from: the protocol the builder reads through.

Two implementations: :class:`flaresuite.index.s3source.S3Source` (an S3 bucket, used by the
Worker and ``flaresuite index build --s3-bucket``) and
:class:`flaresuite_host.index.wheeldir.WheelDirectory` (a directory of wheels, for the CLI).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from flaresuite.index.model import SourceObject, Subdirectory


class Source(Protocol):
    def list_directory(self, directory: str) -> AsyncIterator[SourceObject | Subdirectory]:
        """One level below ``directory`` (``""`` is the root): the objects directly in it and
        its sub-directories, like S3's ListObjectsV2 with ``delimiter=/``. Raises if the
        listing cannot complete, so a partial listing is never taken for a whole one."""
        ...

    async def sha256(self, obj: SourceObject) -> str | None:
        """The file's trustworthy hex sha256, or ``None`` when the source has none."""
        ...

    async def read(self, obj: SourceObject) -> bytes:
        """The whole object; used for ``.metadata`` sidecars, which are small."""
        ...

    async def index_page(self, key: str) -> bytes | None:
        """The index page stored at ``key`` (``whl/cu121/nvidia-cudnn-cu12/index.html``), or
        ``None`` when there is none: a sub-directory of a listing may hold anything."""
        ...
