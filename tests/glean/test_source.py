"""The document source's contract: pages by cursor, and clear errors when it is broken."""

from __future__ import annotations

import random

import pytest
from werkzeug import Response

from flaresuite.glean.source import MAX_PAGE_BYTES, Deletion, DocumentSource, SourceError
from flaresuite.glean.upstream import GLEAN_RETRY_POLICY, RetriesExhausted, Upstream
from flaresuite.retry import Retrier
from tests.glean.glean_fakes import answer, doc


def source(world, fetch, clock, url="/source?tenant=a", token=None, max_pages=10_000):
    retrier = Retrier(GLEAN_RETRY_POLICY, sleep=clock.sleep, rng=random.Random(1), clock=clock)
    return DocumentSource(
        Upstream(fetch, retrier, clock),
        world.url(url),
        token=token,
        page_size=2,
        max_pages=max_pages,
    )


async def test_pages_follow_next_cursor_and_keep_the_urls_own_query(world, fetch, clock):
    world.serve_documents(
        [doc(n) for n in range(5)], page_size=2, deleted=[{"id": "gone", "objectType": "Article"}]
    )

    pages = [page async for page in source(world, fetch, clock).pages(since=1700000000)]

    assert [len(p.documents) for p in pages] == [2, 2, 1]
    assert pages[-1].deleted == [Deletion("gone", "Article")]
    assert [s.query for s in world.seen] == [
        {"tenant": "a", "limit": "2", "since": "1700000000"},
        {"tenant": "a", "limit": "2", "cursor": "1", "since": "1700000000"},
        {"tenant": "a", "limit": "2", "cursor": "2", "since": "1700000000"},
    ]
    assert "authorization" not in world.seen[0].headers


async def test_a_5xx_page_is_retried(world, fetch, clock):
    world.serve_documents([doc(1)], page_size=2)
    world.script("source", answer(503))

    pages = [page async for page in source(world, fetch, clock).pages()]

    assert len(pages) == 1 and len(world.seen) == 2 and len(clock.sleeps) == 1


@pytest.mark.parametrize(
    ("page", "error"),
    [
        ([], "a source page must be a JSON object"),
        ({"docs": []}, "must have a 'documents' array"),
        ({"documents": [], "deleted": "x"}, "'deleted' must be an array"),
        ({"documents": [], "deleted": ["doc-1"]}, "'deleted' entries must be {id, objectType}"),
        ({"documents": [], "deleted": [{"id": "doc-1"}]}, "'deleted' entries must be"),
        ({"documents": [], "nextCursor": 2}, "'nextCursor' must be a non-empty string or null"),
        ({"documents": [], "nextCursor": ""}, "'nextCursor' must be a non-empty string or null"),
        (
            {"documents": [], "deleted": [{"id": "\ud800", "objectType": "Article"}]},
            "'deleted' entries must be {id, objectType}",
        ),
        ({"error": "rate limited"}, "must have a 'documents' array"),
    ],
)
async def test_a_page_outside_the_contract_is_an_error(world, fetch, clock, page, error):
    world.script("source", answer(200, page))

    with pytest.raises(SourceError, match=error.replace("{", r"\{").replace("}", r"\}")):
        [p async for p in source(world, fetch, clock).pages()]


async def test_a_source_repeating_a_cursor_is_stopped(world, fetch, clock):
    world.pages = [{"documents": [doc(1)], "nextCursor": "0"}]

    with pytest.raises(SourceError, match="repeated cursor '0'"):
        [p async for p in source(world, fetch, clock).pages()]
    assert len(world.seen) == 2


async def test_a_source_handing_out_fresh_cursors_for_ever_stops_at_the_page_cap(
    world, fetch, clock
):
    """Issue 12.9: such a source was read 20,001 times."""
    world.script(
        "source", *[answer(200, {"documents": [], "nextCursor": f"c{n}"}) for n in range(6)]
    )

    with pytest.raises(SourceError, match=r"more than 5 pages \(DOCUMENT_SOURCE_MAX_PAGES\)"):
        [p async for p in source(world, fetch, clock, max_pages=5).pages()]
    assert len(world.seen) == 5


async def test_a_source_ending_on_the_cap_is_read_whole(world, fetch, clock):
    world.serve_documents([doc(n) for n in range(10)], page_size=2)

    pages = [p async for p in source(world, fetch, clock, max_pages=5).pages()]

    assert len(pages) == 5


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"[" * 100_000, "nested 100000 levels deep"),
        (b'{"documents": [], "documents": [1]}', "names the same member more than once"),
        (b"\xff\xfe{}", "without a byte-order mark"),
        (b"<html>Service unavailable</html>", "invalid JSON"),
    ],
)
async def test_a_page_the_json_guard_refuses_fails_cleanly(world, fetch, clock, body, error):
    world.script("source", lambda: Response(body, status=200))

    with pytest.raises(SourceError, match=error):
        [p async for p in source(world, fetch, clock).pages()]


async def test_a_page_over_the_size_limit_is_refused(world, fetch, clock):
    big = b'{"documents": [], "pad": "' + b"x" * MAX_PAGE_BYTES + b'"}'
    world.script("source", lambda: Response(big, status=200))

    with pytest.raises(SourceError, match=f"the limit is {MAX_PAGE_BYTES}"):
        [p async for p in source(world, fetch, clock).pages()]


async def test_errors_show_the_source_url_without_its_query(world, fetch, clock):
    world.script("source", *[answer(503)] * 6)

    with pytest.raises(RetriesExhausted, match="failed 6 times") as failed:
        [p async for p in source(world, fetch, clock, url="/source?apikey=s3cret").pages()]
    assert "s3cret" not in str(failed.value)
    assert f"GET {world.url('/source')}?[redacted] failed 6 times" in str(failed.value)
