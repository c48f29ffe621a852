"""Shared fixtures: a bucket that fails on demand, a recording audit log, request builders."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from flaresuite.http import HttpRequest
from flaresuite.purge.config import PurgeConfig
from flaresuite.purge.service import PurgeService
from flaresuite.stores.memory import MemoryBucket

TOKEN = "s3cret-delete-proxy-token"


class FaultyBucket(MemoryBucket):
    """A MemoryBucket whose ``delete`` raises for any call naming a poisoned key, and whose
    ``list`` raises while ``list_fails`` is set, the way an R2 binding throws."""

    def __init__(self) -> None:
        super().__init__()
        self.poisoned: set[str] = set()
        self.list_fails = False

    async def delete(self, keys: Sequence[str]) -> None:
        if self.poisoned.intersection(keys):
            self.calls.append(("delete", tuple(keys)))
            raise RuntimeError("R2 delete failed (10001)")
        await super().delete(keys)

    async def list(self, *, prefix: str = "", cursor: str | None = None, limit: int = 1000):
        if self.list_fails:
            self.calls.append(("list", prefix))
            raise RuntimeError("R2 list failed")
        return await super().list(prefix=prefix, cursor=cursor, limit=limit)

    def count(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)


class AuditLog(list):
    """Collects ``log(event, **fields)`` calls as ``(event, fields)``."""

    def __call__(self, event: str, /, **fields: Any) -> None:
        self.append((event, fields))


async def seed(bucket: MemoryBucket, keys: Sequence[str]) -> None:
    for key in keys:
        await bucket.put(key, b"x")
    bucket.calls.clear()


def post(
    path: str, body: object | bytes, *, token: str | None = TOKEN, **headers: str
) -> HttpRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = {"content-type": "application/json", **headers}
    if token is not None:
        all_headers["authorization"] = f"Bearer {token}"
    return HttpRequest("POST", f"https://delete-proxy.example{path}", all_headers, raw)


@pytest.fixture
def bucket() -> FaultyBucket:
    return FaultyBucket()


@pytest.fixture
def audit() -> AuditLog:
    return AuditLog()


@pytest.fixture
def service(bucket: FaultyBucket, audit: AuditLog) -> PurgeService:
    return PurgeService(bucket, PurgeConfig(token=TOKEN), log=audit)
