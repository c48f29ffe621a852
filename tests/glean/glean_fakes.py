"""Stand-ins for the Glean tests: one loopback HTTP server playing Glean, the document source
and the connector backend, recording every request in order; a fake clock whose ``sleep``
only moves time; and the environments of both modes."""

from __future__ import annotations

import asyncio
import json
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from werkzeug import Request, Response

from flaresuite.stores.memory import MemoryKeyValue

AT_0200 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC).timestamp()


class FakeClock:
    """Starts at 02:00 UTC; ``sleep`` records the delay and advances both clocks by it
    instead of waiting."""

    def __init__(self, now: float = AT_0200) -> None:
        self._now = now
        self._monotonic = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        self._now += seconds
        self._monotonic += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)
        # A real, tiny yield, so that a run polling for the lock lets the holder's loopback
        # I/O progress.
        await asyncio.sleep(0.01)


@dataclass(frozen=True)
class Seen:
    """One request the loopback server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float
    """The fake clock's ``monotonic()`` when it arrived."""

    @property
    def endpoint(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def doc(n: int, **fields: Any) -> dict[str, Any]:
    """A valid Glean document."""
    return {
        "id": f"doc-{n:06d}",
        "objectType": "Article",
        "title": f"Document {n}",
        "viewURL": f"https://wiki.example.com/doc/{n}",
        "permissions": {"allowAnonymousAccess": True},
        "updatedAt": 1_763_000_000 + n,
        "body": {"mimeType": "text/plain", "textContent": f"text of document {n}"},
        **fields,
    }


class World:
    """Routes: ``/source`` (document source), ``/api/index/v1/<endpoint>`` (Glean),
    ``/backend/index`` (connector backend). Scripted answers are consumed first; afterwards
    Glean answers 200 ``{}`` and the source serves ``self.pages`` by cursor."""

    def __init__(self, server, clock: FakeClock) -> None:
        self.server = server
        self.clock = clock
        self.seen: list[Seen] = []
        self.pages: list[dict[str, Any]] = []
        self.scripted: dict[str, deque[Callable[[], Response]]] = {}
        self.backend_answer: Callable[[Request], Response] = lambda r: _json(500, {})
        server.expect_request(re.compile("^/")).respond_with_handler(self._dispatch)

    def url(self, path: str = "") -> str:
        return self.server.url_for(path).rstrip("/")

    def script(self, endpoint: str, *answers: Response | Callable[[], Response]) -> None:
        queue = self.scripted.setdefault(endpoint, deque())
        for answer in answers:
            queue.append(
                answer
                if callable(answer) and not isinstance(answer, Response)
                else (lambda a=answer: a)
            )

    def serve_documents(
        self, documents: list[dict], page_size: int, deleted: list[dict] | None = None
    ) -> None:
        """Source pages of ``page_size``; cursors are the next page's number."""
        chunks = [documents[i : i + page_size] for i in range(0, len(documents), page_size)] or [[]]
        self.pages = [
            {
                "documents": chunk,
                "deleted": deleted if n == len(chunks) - 1 and deleted else [],
                "nextCursor": str(n + 1) if n + 1 < len(chunks) else None,
            }
            for n, chunk in enumerate(chunks)
        ]

    def requests(self, prefix: str = "") -> list[Seen]:
        return [s for s in self.seen if s.path.startswith(prefix)]

    def glean_requests(self) -> list[Seen]:
        return self.requests("/api/index/v1/")

    def sequence(self) -> list[str]:
        """Each request as ``source`` or the Glean/backend endpoint name."""
        return ["source" if s.path == "/source" else s.endpoint for s in self.seen]

    def _dispatch(self, request: Request) -> Response:
        raw = request.get_data()
        body = json.loads(raw) if raw else None
        self.seen.append(
            Seen(
                request.method,
                request.path,
                dict(request.args),
                {k.lower(): v for k, v in request.headers.items()},
                body,
                self.clock.monotonic(),
            )
        )
        endpoint = request.path.rsplit("/", 1)[-1]
        key = "source" if request.path == "/source" else endpoint
        if self.scripted.get(key):
            return self.scripted[key].popleft()()
        if request.path == "/source":
            return _json(200, self.pages[int(request.args.get("cursor", "0"))])
        if request.path.startswith("/api/index/v1/"):
            return _json(200, {})
        if request.path == "/backend/index":
            return self.backend_answer(request)
        return _json(404, {"error": "no such route"})


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def answer(status: int, body: object = None, **headers: str) -> Response:
    return _json(
        status, {} if body is None else body, {k.replace("_", "-"): v for k, v in headers.items()}
    )


TRIGGER_TOKEN = "trigger-secret-3f9a"


def direct_env(world: World, **overrides: str) -> dict[str, str]:
    return {
        "GLEAN_TRIGGER_TOKEN": TRIGGER_TOKEN,
        "GLEAN_SERVER_URL": world.url(),
        "GLEAN_INDEXING_API_TOKEN": "glean-token",
        "GLEAN_DATASOURCE": "wiki",
        "DOCUMENT_SOURCE_URL": world.url("/source"),
        "DOCUMENT_SOURCE_TOKEN": "source-token",
        "DOCUMENT_SOURCE_PAGE_SIZE": "500",
        **overrides,
    }


def backend_env(world: World, **overrides: str) -> dict[str, str]:
    return {
        "GLEAN_TRIGGER_TOKEN": TRIGGER_TOKEN,
        "GLEAN_INSTANCE": "acme",
        "CONNECTOR_API_URL": world.url("/backend"),
        "CONNECTOR_API_TOKEN": "backend-token",
        "CONNECTOR_API_TIMEOUT": "1",
        **overrides,
    }


class OneWritePerSecondKV(MemoryKeyValue):
    """KV refusing a second write (put or delete) to a key within a second, as Workers KV
    does with 429; Miniflare does not enforce it, so the lane cannot show it."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self._clock = clock
        self.written: dict[str, float] = {}

    async def put(self, key: str, value: str, *, expiration_ttl: int | None = None) -> None:
        self._count(key)
        await super().put(key, value, expiration_ttl=expiration_ttl)

    async def delete(self, key: str) -> None:
        self._count(key)
        await super().delete(key)

    def _count(self, key: str) -> None:
        now = self._clock.monotonic()
        if key in self.written and now - self.written[key] < 1:
            raise RuntimeError(f"KV PUT failed: 429 Too Many Requests ({key})")
        self.written[key] = now


class Logs(list):
    def __call__(self, event: str, /, **fields: Any) -> None:
        self.append({"event": event, **fields})

    def events(self) -> list[str]:
        return [entry["event"] for entry in self]
