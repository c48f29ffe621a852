"""A directory as a :class:`flaresuite.ports.Bucket` (CPython only), for local index builds.

Content types are not kept: a static file server infers them from the name. Pages
(``.html``/``.json``) get MD5 ETags like R2's for single-part uploads, so "unchanged page"
checks behave as on R2; every other file (wheels, in an in-place build) gets a size/mtime tag,
because hashing every wheel on each listing would cost more than the build itself.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from flaresuite.ports import ListedObject, ListPage, StoredObject, check_delete_batch
from flaresuite.stores.memory import list_page

HASHED_SUFFIXES = (".html", ".json")


class DirectoryBucket:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"key escapes the bucket directory: {key!r}")
        return path

    async def get(self, key: str) -> StoredObject | None:
        path = self._path(key)
        if not path.is_file():
            return None
        body = path.read_bytes()
        return StoredObject(key=key, body=body, etag=hashlib.md5(body).hexdigest())

    async def put(
        self,
        key: str,
        body: bytes,
        *,
        content_type: str | None = None,
        cache_control: str | None = None,
        custom_metadata: Mapping[str, str] | None = None,
    ) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(body)
        # A reader (say, a web server on the tree) sees the old page or the new one, never half.
        os.replace(partial, path)

    async def delete(self, keys: Sequence[str]) -> None:
        check_delete_batch(keys)
        for key in keys:
            self._path(key).unlink(missing_ok=True)

    async def list(
        self, *, prefix: str = "", cursor: str | None = None, limit: int = 1000
    ) -> ListPage:
        return list_page(
            self._keys_under(prefix), self._listed, prefix=prefix, cursor=cursor, limit=limit
        )

    def _keys_under(self, prefix: str) -> Iterator[str]:
        top = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        for directory, subdirs, files in os.walk(top):
            # Hidden directories (a build's own state) are not part of the published tree.
            subdirs[:] = [name for name in subdirs if not name.startswith(".")]
            for name in files:
                if not name.endswith(".partial"):
                    yield (Path(directory) / name).relative_to(self.root).as_posix()

    def _listed(self, key: str) -> ListedObject:
        path = self.root / key
        stat = path.stat()
        if key.endswith(HASHED_SUFFIXES):
            etag = hashlib.md5(path.read_bytes()).hexdigest()
        else:
            etag = f"{stat.st_size:x}-{stat.st_mtime_ns:x}"
        return ListedObject(key=key, size=stat.st_size, etag=etag)
