"""Fixtures for the index builder's tests: an in-memory source that counts its reads."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pytest

from flaresuite.http import HttpRequest, HttpResponse
from flaresuite.index.model import SourceObject, Subdirectory

WHEN = datetime(2025, 1, 3, 12, 30, tzinfo=UTC)


class FakeSource:
    """A bucket in memory, listed one directory level at a time like S3 with ``delimiter=/``.
    ``fail_listing`` names directories whose listing breaks off after their first object."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.checksums: dict[str, str | None] = {}
        self.etags: dict[str, str] = {}
        self.heads: list[str] = []
        self.reads: list[str] = []
        self.page_reads: list[str] = []
        self.fail_listing: set[str] = set()
        self.fail_head: set[str] = set()
        self.listed: list[str] = []
        self.modified: dict[str, datetime] = {}

    def add(self, key: str, body: bytes = b"", *, sha256: str | None = "auto") -> None:
        self.bodies[key] = body or key.encode()
        self.etags[key] = hashlib.md5(self.bodies[key]).hexdigest()
        self.checksums[key] = (
            hashlib.sha256(self.bodies[key]).hexdigest() if sha256 == "auto" else sha256
        )

    def replace(self, key: str, body: bytes) -> None:
        self.add(key, body)

    def touch(self, key: str, when: datetime) -> None:
        """A copy of the object onto itself: same ETag, new LastModified."""
        self.modified[key] = when

    async def list_directory(self, directory: str) -> AsyncIterator[SourceObject | Subdirectory]:
        self.listed.append(directory)
        start = directory + "/" if directory else ""
        subdirectories = set()
        for count, key in enumerate(sorted(k for k in self.bodies if k.startswith(start))):
            rest = key[len(start) :]
            if "/" in rest:
                subdirectories.add(start + rest.split("/", 1)[0])
                continue
            if directory in self.fail_listing and count >= 1:
                raise ConnectionError("listing interrupted")
            yield SourceObject(
                key, len(self.bodies[key]), self.etags[key], self.modified.get(key, WHEN)
            )
        for path in sorted(subdirectories):
            yield Subdirectory(path)

    async def sha256(self, obj: SourceObject) -> str | None:
        self.heads.append(obj.key)
        if obj.key in self.fail_head:
            raise ConnectionError(f"HEAD {obj.key} failed")
        return self.checksums[obj.key]

    async def read(self, obj: SourceObject) -> bytes:
        self.reads.append(obj.key)
        return self.bodies[obj.key]

    async def index_page(self, key: str) -> bytes | None:
        self.page_reads.append(key)
        return self.bodies.get(key)


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


class FakeS3:
    """An :data:`~flaresuite.http.HttpFetch` answering ListObjectsV2 (with ``delimiter``),
    HeadObject and GetObject from a dict, path-style at ``http://s3.test``: enough for the
    service's runs without a server. Every request is recorded."""

    ENDPOINT = "http://s3.test"

    def __init__(self, bucket: str = "pytorch") -> None:
        self.bucket = bucket
        self.objects: dict[str, bytes] = {}
        self.requests: list[HttpRequest] = []

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        url = urlsplit(request.url)
        bucket, _, key = url.path.lstrip("/").partition("/")
        if bucket != self.bucket:
            return HttpResponse(404, {}, b"<Error><Code>NoSuchBucket</Code></Error>")
        if not key:
            return self._list(dict(parse_qsl(url.query, keep_blank_values=True)))
        body = self.objects.get(unquote(key))
        if body is None:
            return HttpResponse(404, {}, b"<Error><Code>NoSuchKey</Code></Error>")
        checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
        headers = {
            "etag": f'"{hashlib.md5(body).hexdigest()}"',
            "content-length": str(len(body)),
            "x-amz-checksum-sha256": checksum,
            "last-modified": "Fri, 03 Jan 2025 12:30:00 GMT",
        }
        return HttpResponse(200, headers, b"" if request.method == "HEAD" else body)

    def _list(self, query: dict[str, str]) -> HttpResponse:
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter")
        contents, prefixes = [], set()
        for key in sorted(k for k in self.objects if k.startswith(prefix)):
            rest = key[len(prefix) :]
            if delimiter and delimiter in rest:
                prefixes.add(prefix + rest.split(delimiter, 1)[0] + delimiter)
                continue
            body = self.objects[key]
            contents.append(
                f"<Contents><Key>{quote(key)}</Key><LastModified>2025-01-03T12:30:00.000Z"
                f"</LastModified><ETag>&quot;{hashlib.md5(body).hexdigest()}&quot;</ETag>"
                f"<Size>{len(body)}</Size></Contents>"
            )
        common = "".join(
            f"<CommonPrefixes><Prefix>{quote(p)}</Prefix></CommonPrefixes>"
            for p in sorted(prefixes)
        )
        document = (
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            "<EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"
            + "".join(contents)
            + common
            + "</ListBucketResult>"
        )
        return HttpResponse(200, {"content-type": "application/xml"}, document.encode())


class MemoryQueue:
    """A Queue producer that keeps what was sent, and deliveries a test can inspect."""

    def __init__(self) -> None:
        self.sent: list[dict[str, object]] = []
        self.delivered = 0

    async def send(self, body) -> None:
        self.sent.append(dict(body))

    def deliver(self) -> list[Delivered]:
        """Everything sent so far, as deliveries; the queue is emptied."""
        batch, self.sent = [Delivered(body) for body in self.sent], []
        self.delivered += len(batch)
        return batch


class Delivered:
    def __init__(self, body: object) -> None:
        self.body = body
        self.outcome: str | None = None

    def ack(self) -> None:
        self.outcome = "ack"

    def retry(self) -> None:
        self.outcome = "retry"
