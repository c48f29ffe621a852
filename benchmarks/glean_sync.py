"""Documents per second through the Glean orchestrator's core in a FULL sync, and its peak
memory, at 10,000 and 100,000 documents side by side.

The document source and Glean are in-process fakes behind the injected ``HttpFetch``: the
source builds each page when asked (nothing pre-generated), Glean parses each page and checks
the upload's flags. Time spent inside the fakes is measured and reported apart, so "core"
is the orchestrator's own work: validating, serialising, batching, the request loop.
Peak memory comes from ``tracemalloc`` in a separate run (tracing slows everything down).
``--loopback N`` adds a row where the same fakes sit behind real HTTP on 127.0.0.1 (werkzeug
server thread, httpx client), to show what the request round trips cost.

    uv run python benchmarks/glean_sync.py [--sizes 10000 100000] [--loopback 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
import tracemalloc
from urllib.parse import parse_qs, urlsplit

import httpx
from werkzeug import Request
from werkzeug.serving import WSGIRequestHandler, make_server

from flaresuite.glean.app import GleanApp
from flaresuite.http import HttpRequest, HttpResponse
from flaresuite.stores.memory import MemoryKeyValue

SOURCE_PAGE = 500
OK = HttpResponse(200, {"content-type": "application/json"}, b"{}")


def document(n: int) -> dict:
    return {
        "id": f"doc-{n:07d}",
        "objectType": "Article",
        "title": f"Document {n}",
        "viewURL": f"https://wiki.example.com/doc/{n}",
        "permissions": {"allowedGroups": ["engineering"]},
        "updatedAt": 1_763_000_000 + n,
        "body": {"mimeType": "text/plain", "textContent": f"Body of document {n}. " * 8},
    }


class FakeWorld:
    """The source serves ``total`` documents; Glean checks every page of the upload."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.fake_seconds = 0.0
        self.indexed = 0
        self.pages = 0
        self.upload_ids: set[str] = set()
        self.last_page_seen = False

    async def fetch(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        try:
            if "source.bench/" in request.url:
                return self._source(request)
            return self._glean(request)
        finally:
            self.fake_seconds += time.perf_counter() - started

    def _source(self, request: HttpRequest) -> HttpResponse:
        query = parse_qs(urlsplit(request.url).query)
        start = int(query.get("cursor", ["0"])[0])
        end = min(start + int(query["limit"][0]), self.total)
        page = {
            "documents": [document(n) for n in range(start, end)],
            "nextCursor": str(end) if end < self.total else None,
        }
        return HttpResponse(200, {}, json.dumps(page).encode())

    def _glean(self, request: HttpRequest) -> HttpResponse:
        body = json.loads(request.body)
        assert body["isFirstPage"] == (self.pages == 0) and not self.last_page_seen
        assert len(body["documents"]) <= 1000 and len(request.body) <= 5 * 1024 * 1024
        self.upload_ids.add(body["uploadId"])
        self.last_page_seen = body["isLastPage"]
        self.pages += 1
        self.indexed += len(body["documents"])
        return OK


async def full_sync(total: int, loopback: str | None = None) -> FakeWorld:
    world = FakeWorld(total)
    fetch = world.fetch
    base = {"source": "https://source.bench", "glean": "https://glean.bench"}
    if loopback is not None:
        base = {"source": f"{loopback}/source.bench", "glean": f"{loopback}/glean.bench"}
        client = httpx.AsyncClient()

        async def fetch(request: HttpRequest) -> HttpResponse:
            answer = await client.request(
                request.method, request.url, headers=dict(request.headers), content=request.body
            )
            return HttpResponse(answer.status_code, dict(answer.headers), answer.content)

    app = GleanApp(
        {
            "GLEAN_TRIGGER_TOKEN": "bench",
            "GLEAN_SERVER_URL": base["glean"],
            "GLEAN_INDEXING_API_TOKEN": "bench",
            "GLEAN_DATASOURCE": "wiki",
            "DOCUMENT_SOURCE_URL": f"{base['source']}/docs",
            "DOCUMENT_SOURCE_PAGE_SIZE": str(SOURCE_PAGE),
        },
        MemoryKeyValue(),
        fetch,
        sleep=_no_wait,
        log=lambda event, /, **fields: None,
    )
    if loopback is not None:
        _SERVER["world"] = world
    record = await app.scheduled("0 2 * * *")
    if loopback is not None:
        await client.aclose()
    assert record.status == "completed" and world.indexed == total, record
    assert world.last_page_seen and len(world.upload_ids) == 1
    return world


async def _no_wait(seconds: float) -> None:
    """The fakes never ask for a retry, so the only waits are the ones that keep KV's one write
    per second per key (a run clears its upload marker and lock within a second of setting
    them): idle wall time on KV's account, not the core's work, so not measured."""


_SERVER: dict[str, FakeWorld] = {}
"""The fakes the loopback server answers for: the current run's."""


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: object) -> None:
        pass


def start_loopback() -> str:
    def app(environ, start_response):
        request = Request(environ)
        core = HttpRequest(request.method, request.url, dict(request.headers), request.get_data())
        answer = asyncio.run(_SERVER["world"].fetch(core))
        start_response(f"{answer.status} OK", [("content-type", "application/json")])
        return [answer.body]

    server = make_server("127.0.0.1", 0, app, request_handler=_QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"


def measure_loopback(total: int) -> dict[str, float]:
    url = start_loopback()
    started = time.perf_counter()
    asyncio.run(full_sync(total, url))
    elapsed = time.perf_counter() - started
    return {"documents": total, "seconds": elapsed, "docs_per_s": total / elapsed}


def measure(total: int) -> dict[str, float]:
    started = time.perf_counter()
    world = asyncio.run(full_sync(total))
    elapsed = time.perf_counter() - started
    core = elapsed - world.fake_seconds

    tracemalloc.start()
    asyncio.run(full_sync(total))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    whole_set = sum(len(json.dumps(document(n))) for n in range(total))
    return {
        "documents": total,
        "pages": world.pages,
        "seconds": elapsed,
        "docs_per_s": total / elapsed,
        "core_docs_per_s": total / core,
        "peak_mib": peak / 2**20,
        "set_mib": whole_set / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--loopback", type=int, metavar="N", help="also sync N documents over loopback HTTP"
    )
    args = parser.parse_args()
    rows = [measure(total) for total in args.sizes]

    print(
        f"{'documents':>10} {'pages':>6} {'seconds':>8} {'docs/s':>9} {'core docs/s':>12} "
        f"{'peak MiB':>9} {'whole set MiB':>14}"
    )
    for row in rows:
        print(
            f"{row['documents']:>10,} {row['pages']:>6} {row['seconds']:>8.2f} "
            f"{row['docs_per_s']:>9,.0f} {row['core_docs_per_s']:>12,.0f} "
            f"{row['peak_mib']:>9.1f} {row['set_mib']:>14.1f}"
        )
    small, large = rows[0], rows[-1]
    print(
        f"\n{large['documents'] // small['documents']}x the documents: peak memory "
        f"x{large['peak_mib'] / small['peak_mib']:.2f}, throughput "
        f"x{large['core_docs_per_s'] / small['core_docs_per_s']:.2f} (core)"
    )
    print(
        f"at {large['documents']:,} documents the peak is "
        f"{large['peak_mib'] / large['set_mib']:.0%} of the serialised set: pages stream"
    )
    if args.loopback:
        http = measure_loopback(args.loopback)
        same = next((r for r in rows if r["documents"] == args.loopback), rows[0])
        print(
            f"\nover loopback HTTP: {http['documents']:,} documents in {http['seconds']:.2f} s, "
            f"{http['docs_per_s']:,.0f} docs/s (in-process: {same['docs_per_s']:,.0f} docs/s, "
            f"x{http['docs_per_s'] / same['docs_per_s']:.2f})"
        )


if __name__ == "__main__":
    main()
