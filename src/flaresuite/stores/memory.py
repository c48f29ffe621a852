"""In-memory bucket and KV namespace with R2/KV semantics, for tests and dry runs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

from flaresuite.ports import (
    Clock,
    ListedObject,
    ListPage,
    StoredObject,
    SystemClock,
    check_delete_batch,
)


class MemoryBucket:
    def __init__(self) -> None:
        self.objects: dict[str, StoredObject] = {}
        self.calls: list[tuple[str, object]] = []
        """Every call as ``(method, argument)``, so tests can count round trips."""

    async def get(self, key: str) -> StoredObject | None:
        self.calls.append(("get", key))
        return self.objects.get(key)

    async def put(
        self,
        key: str,
        body: bytes,
        *,
        content_type: str | None = None,
        cache_control: str | None = None,
        custom_metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.calls.append(("put", key))
        self.objects[key] = StoredObject(
            key=key,
            body=bytes(body),
            etag=hashlib.md5(body).hexdigest(),
            content_type=content_type,
            cache_control=cache_control,
            custom_metadata=dict(custom_metadata or {}),
        )

    async def delete(self, keys: Sequence[str]) -> None:
        self.calls.append(("delete", tuple(keys)))
        check_delete_batch(keys)
        for key in keys:
            self.objects.pop(key, None)

    async def list(
        self, *, prefix: str = "", cursor: str | None = None, limit: int = 1000
    ) -> ListPage:
        self.calls.append(("list", prefix))
        return list_page(self.objects, self._listed, prefix=prefix, cursor=cursor, limit=limit)

    def _listed(self, key: str) -> ListedObject:
        stored = self.objects[key]
        return ListedObject(key=key, size=len(stored.body), etag=stored.etag)


def list_page(
    keys: Iterable[str],
    listed: Callable[[str], ListedObject],
    *,
    prefix: str,
    cursor: str | None,
    limit: int,
) -> ListPage:
    """R2's ``list`` over a set of keys: those starting with ``prefix`` in ascending order,
    after ``cursor``, at most ``limit``; ``listed`` describes each key returned."""
    selected = sorted(k for k in keys if k.startswith(prefix) and (cursor is None or k > cursor))
    page = selected[:limit]
    truncated = len(selected) > limit
    return ListPage(
        objects=[listed(key) for key in page],
        cursor=page[-1] if truncated else None,
        truncated=truncated,
    )


class MemoryKeyValue:
    """KV with expiry judged against an injected clock, so tests can move time."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self.values: dict[str, tuple[str, float | None]] = {}

    async def get(self, key: str) -> str | None:
        entry = self.values.get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if expires_at is not None and self._clock.now() >= expires_at:
            del self.values[key]
            return None
        return value

    async def put(self, key: str, value: str, *, expiration_ttl: int | None = None) -> None:
        expires_at = None if expiration_ttl is None else self._clock.now() + expiration_ttl
        self.values[key] = (value, expires_at)

    async def delete(self, key: str) -> None:
        self.values.pop(key, None)
