"""Fixtures for the index builder's tests: an in-memory source that counts its reads."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from flaresuite.index.model import SourceObject

WHEN = datetime(2025, 1, 3, 12, 30, tzinfo=UTC)


class FakeSource:
    """A bucket listing in memory. ``fail_listing`` raises after that many objects."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.checksums: dict[str, str | None] = {}
        self.etags: dict[str, str] = {}
        self.heads: list[str] = []
        self.reads: list[str] = []
        self.fail_listing: int | None = None
        self.fail_head: set[str] = set()

    def add(self, key: str, body: bytes = b"", *, sha256: str | None = "auto") -> None:
        self.bodies[key] = body or key.encode()
        self.etags[key] = hashlib.md5(self.bodies[key]).hexdigest()
        self.checksums[key] = (
            hashlib.sha256(self.bodies[key]).hexdigest() if sha256 == "auto" else sha256
        )

    def replace(self, key: str, body: bytes) -> None:
        self.add(key, body)

    async def list(self, prefix: str) -> AsyncIterator[SourceObject]:
        for count, key in enumerate(sorted(k for k in self.bodies if k.startswith(prefix + "/"))):
            if self.fail_listing is not None and count >= self.fail_listing:
                raise ConnectionError("listing interrupted")
            yield SourceObject(key, len(self.bodies[key]), self.etags[key], WHEN)

    async def sha256(self, obj: SourceObject) -> str | None:
        self.heads.append(obj.key)
        if obj.key in self.fail_head:
            raise ConnectionError(f"HEAD {obj.key} failed")
        return self.checksums[obj.key]

    async def read(self, obj: SourceObject) -> bytes:
        self.reads.append(obj.key)
        return self.bodies[obj.key]


def core_metadata(name: str, version: str, requires_python: str | None = None) -> bytes:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    return ("\n".join(lines) + "\n").encode()


def b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


class StepClock:
    """A clock that advances ``step`` seconds every time the builder looks at it."""

    def __init__(self, step: float = 0.0) -> None:
        self.step = step
        self.t = 0.0

    def now(self) -> float:
        return 1_700_000_000.0 + self.t

    def monotonic(self) -> float:
        self.t += self.step
        return self.t
