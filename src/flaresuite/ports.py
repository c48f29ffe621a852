"""The small protocols through which the core touches the world.

Each Worker entry module adapts its runtime bindings to these; tests and the CLI use the
in-memory and filesystem implementations in :mod:`flaresuite.stores`. Shapes follow the R2 and
KV binding APIs closely so that adapters stay a screen long.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

MAX_DELETE_KEYS = 1000
"""R2's per-call limit on ``delete``: 0 or more than 1000 keys is error 10027
(https://developers.cloudflare.com/r2/api/workers/workers-api-reference/). Every
:class:`Bucket` enforces it, so code tested on a local bucket behaves the same on R2."""


def check_delete_batch(keys: Sequence[str]) -> None:
    """Raises ``ValueError`` with R2's own message unless ``keys`` holds 1 to 1000 keys."""
    if not 1 <= len(keys) <= MAX_DELETE_KEYS:
        raise ValueError(
            "delete: The number of keys in the request must be between 1 and 1000 "
            "inclusive. (10027)"
        )


@dataclass(frozen=True, slots=True)
class StoredObject:
    """An object read back from a bucket, with the metadata it was written with."""

    key: str
    body: bytes
    etag: str = ""
    content_type: str | None = None
    cache_control: str | None = None
    custom_metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ListedObject:
    key: str
    size: int
    etag: str = ""


@dataclass(frozen=True, slots=True)
class ListPage:
    objects: Sequence[ListedObject]
    cursor: str | None
    """Set only when ``truncated``: pass it back to get the next page."""
    truncated: bool


class Bucket(Protocol):
    """An R2-like object store (one R2 binding, or a directory on disk)."""

    async def get(self, key: str) -> StoredObject | None: ...

    async def put(
        self,
        key: str,
        body: bytes,
        *,
        content_type: str | None = None,
        cache_control: str | None = None,
        custom_metadata: Mapping[str, str] | None = None,
    ) -> None: ...

    async def delete(self, keys: Sequence[str]) -> None:
        """Deletes 1 to 1000 keys in one call; a key that does not exist is not an error."""
        ...

    async def list(
        self, *, prefix: str = "", cursor: str | None = None, limit: int = 1000
    ) -> ListPage: ...


class KeyValue(Protocol):
    """A KV namespace: eventually consistent strings with optional expiry."""

    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, value: str, *, expiration_ttl: int | None = None) -> None:
        """``expiration_ttl`` is in seconds; KV requires at least 60."""
        ...

    async def delete(self, key: str) -> None: ...


class Queue(Protocol):
    """A Cloudflare Queue's producer binding: messages are JSON-compatible values, delivered
    at least once to the consumer Worker's ``queue`` handler, retried on failure."""

    async def send(self, body: Mapping[str, object]) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, for measuring durations."""
        ...


class SystemClock:
    """The host's clock. In a Worker, ``time.time()`` is the request's frozen start time
    advanced only by I/O, which is exactly what CPU/wall budgets should see."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()
