"""The document source's contract: pages by cursor, and clear errors when it is broken."""

from __future__ import annotations

import random

import pytest

from flaresuite.glean.retry import Retrying, RetryPolicy
from flaresuite.glean.source import Deletion, DocumentSource, SourceError
from tests.glean.glean_fakes import answer, doc


def source(world, fetch, clock, url="/source?tenant=a", token=None):
    retrying = Retrying(fetch, RetryPolicy(), clock.sleep, random.Random(1))
    return DocumentSource(retrying, world.url(url), token=token, page_size=2)


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
