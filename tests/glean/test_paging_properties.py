"""Properties of FULL paging over any mix of document counts, sizes and source page sizes:
every document exactly once and in order, pages within 1000 documents and 5 MiB, one
``uploadId``, ``isFirstPage`` only first and ``isLastPage`` only last."""

from __future__ import annotations

import asyncio
import json
import random
from itertools import pairwise
from urllib.parse import parse_qs, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from flaresuite.glean.app import GleanApp
from flaresuite.glean.source import MAX_PAGE_BYTES as MAX_SOURCE_PAGE
from flaresuite.http import HttpRequest, HttpResponse
from flaresuite.stores.memory import MemoryKeyValue
from tests.glean.glean_fakes import FakeClock, doc

MIB = 1024 * 1024


def run_full_sync(sizes: list[int], source_page: int) -> list[dict]:
    """FULL-syncs documents whose text bodies have ``sizes`` bytes; returns the bulk pages."""
    documents = [
        doc(n, body={"mimeType": "text/plain", "textContent": "x" * size})
        for n, size in enumerate(sizes)
    ]
    pages: list[dict] = []

    async def fetch(request: HttpRequest) -> HttpResponse:
        if request.url.startswith("https://source.test/"):
            query = parse_qs(urlsplit(request.url).query)
            start = int(query.get("cursor", ["0"])[0])
            end = min(start + source_page, len(documents))
            # Like any source, it keeps a page under the size the Worker reads.
            while end - start > 1 and page_bytes(documents[start:end]) > MAX_SOURCE_PAGE:
                end = start + (end - start) // 2
            body = {
                "documents": documents[start:end],
                "nextCursor": str(end) if end < len(documents) else None,
            }
            return HttpResponse(200, {}, json.dumps(body).encode())
        assert len(request.body) <= 5 * MIB
        pages.append(json.loads(request.body))
        return HttpResponse(200, {}, b"{}")

    clock = FakeClock()
    app = GleanApp(
        {
            "GLEAN_TRIGGER_TOKEN": "t",
            "GLEAN_SERVER_URL": "https://glean.test",
            "GLEAN_INDEXING_API_TOKEN": "g",
            "GLEAN_DATASOURCE": "wiki",
            "DOCUMENT_SOURCE_URL": "https://source.test/docs",
            "DOCUMENT_SOURCE_PAGE_SIZE": str(source_page),
        },
        MemoryKeyValue(clock),
        fetch,
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(0),
        log=lambda event, /, **fields: None,
    )
    record = asyncio.run(app.scheduled("0 2 * * *"))
    assert record.status == "completed" and record.documents_indexed == len(sizes)
    return pages


sizes = st.lists(
    st.one_of(st.integers(0, 200), st.integers(100_000, 2 * MIB)), min_size=1, max_size=2500
).filter(lambda s: sum(s) < 40 * MIB)


@settings(max_examples=25, deadline=None)
@given(sizes=sizes, source_page=st.integers(1, 1500))
def test_full_pages_hold_every_document_once_within_the_limits(sizes, source_page):
    pages = run_full_sync(sizes, source_page)

    ids = [d["id"] for page in pages for d in page["documents"]]
    assert ids == [f"doc-{n:06d}" for n in range(len(sizes))]
    assert all(1 <= len(page["documents"]) <= 1000 for page in pages)
    assert len({page["uploadId"] for page in pages}) == 1
    assert [page["isFirstPage"] for page in pages] == [True] + [False] * (len(pages) - 1)
    assert [page["isLastPage"] for page in pages] == [False] * (len(pages) - 1) + [True]
    # Pages are as full as the limits allow: each one would overflow with the next document.
    for page, following in pairwise(pages):
        with_next = page["documents"] + following["documents"][:1]
        assert (
            len(page["documents"]) == 1000
            or sum(len(compact(d)) + 1 for d in with_next) > 5 * MIB - 1024
        )


def page_bytes(documents: list[dict]) -> int:
    return len(json.dumps({"documents": documents, "nextCursor": "0" * 10}))


def compact(document: dict) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
