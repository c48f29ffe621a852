"""Direct mode, INCREMENTAL: changes since the checkpoint through /indexdocuments, deletions
through /deletedocument, at Glean's 600 documents a minute; the checkpoint moves only on
success."""

from __future__ import annotations

import json
import re

import pytest
from werkzeug import Response

from flaresuite.glean.app import RunFailed
from flaresuite.glean.state import CHECKPOINT_KEY
from flaresuite.stores.memory import MemoryKeyValue
from tests.glean.glean_fakes import answer, direct_env, doc

HOURLY_CRON = "0 * * * *"
CHECKPOINT = 1_763_000_000


@pytest.fixture
async def kv(clock):
    kv = MemoryKeyValue(clock)
    await kv.put(CHECKPOINT_KEY, str(CHECKPOINT))
    return kv


async def test_changes_and_deletions_since_the_checkpoint(world, make_app, kv, clock):
    changed = [doc(n) for n in range(250)]
    deleted = [
        {"id": "doc-old-1", "objectType": "Article"},
        {"id": "doc-old-2", "objectType": "Comment"},
    ]
    world.serve_documents(changed, page_size=500, deleted=deleted)
    started = int(clock.now())

    record = await make_app(direct_env(world), kv).scheduled(HOURLY_CRON)

    assert world.sequence() == [
        "source",
        "indexdocuments",
        "indexdocuments",
        "indexdocuments",
        "deletedocument",
        "deletedocument",
    ]
    # One minute of overlap before the checkpoint catches late-committed changes.
    assert world.requests("/source")[0].query == {"limit": "500", "since": str(CHECKPOINT - 60)}
    batches = [s.body for s in world.requests("/api/index/v1/indexdocuments")]
    assert batches == [
        {"datasource": "wiki", "documents": [{"datasource": "wiki", **d} for d in part]}
        for part in (changed[:100], changed[100:200], changed[200:])
    ]
    assert [s.body for s in world.requests("/api/index/v1/deletedocument")] == [
        {"datasource": "wiki", "objectType": "Article", "id": "doc-old-1"},
        {"datasource": "wiki", "objectType": "Comment", "id": "doc-old-2"},
    ]
    assert "bulkindexdocuments" not in world.sequence(), "an INCREMENTAL run never replaces"
    assert (record.status, record.documents_indexed, record.documents_deleted) == (
        "completed",
        250,
        2,
    )
    assert await kv.get(CHECKPOINT_KEY) == str(started)


async def test_deletions_on_every_source_page_follow_that_pages_changes(world, make_app, kv):
    world.pages = [
        {
            "documents": [doc(1)],
            "deleted": [{"id": "gone-1", "objectType": "Article"}],
            "nextCursor": "1",
        },
        {
            "documents": [doc(2)],
            "deleted": [{"id": "gone-2", "objectType": "Article"}],
            "nextCursor": None,
        },
    ]

    await make_app(direct_env(world), kv).scheduled(HOURLY_CRON)

    assert world.sequence() == [
        "source",
        "indexdocuments",
        "deletedocument",
        "source",
        "indexdocuments",
        "deletedocument",
    ]


async def test_no_more_than_600_documents_go_up_in_any_minute(world, make_app, kv, clock):
    world.serve_documents([doc(n) for n in range(1500)], page_size=500)

    record = await make_app(direct_env(world), kv).scheduled(HOURLY_CRON)

    sent = world.requests("/api/index/v1/indexdocuments")
    assert len(sent) == 15 and record.documents_indexed == 1500
    for request in sent:
        in_window = sum(
            len(s.body["documents"]) for s in sent if request.at - 60 < s.at <= request.at
        )
        assert in_window <= 600
    # 1500 documents at 600 a minute: the last batch leaves two minutes after the first.
    assert sent[-1].at - sent[0].at == 120
    assert sum(clock.sleeps) == 120


async def test_a_failed_run_leaves_the_checkpoint_so_the_next_run_asks_again(
    world, make_app, kv, clock
):
    world.serve_documents(
        [doc(1)], page_size=500, deleted=[{"id": "gone", "objectType": "Article"}]
    )
    world.script("deletedocument", answer(403, {"detail": "token lacks scope"}))
    app = make_app(direct_env(world), kv)

    with pytest.raises(RunFailed, match=r"deletedocument answered HTTP 403: .*token lacks scope"):
        await app.scheduled(HOURLY_CRON)
    assert await kv.get(CHECKPOINT_KEY) == str(CHECKPOINT)
    assert json.loads(await kv.get("glean:last-run:INCREMENTAL"))["status"] == "error"

    clock.advance(3600)
    world.seen.clear()
    started = int(clock.now())
    await app.scheduled(HOURLY_CRON)
    assert world.requests("/source")[0].query["since"] == str(CHECKPOINT - 60)
    assert await kv.get(CHECKPOINT_KEY) == str(started)


async def test_without_a_checkpoint_an_incremental_run_waits_for_a_full_one(world, make_app, clock):
    kv = MemoryKeyValue(clock)

    record = await make_app(direct_env(world), kv).scheduled(HOURLY_CRON)

    assert record.status == "skipped" and "needs a FULL run first" in record.error
    assert world.seen == []
    assert json.loads(await kv.get("glean:last-run:INCREMENTAL"))["status"] == "skipped"


async def test_a_full_run_sets_the_checkpoint_the_next_incremental_run_starts_from(
    world, make_app, clock
):
    kv = MemoryKeyValue(clock)
    world.serve_documents([doc(n) for n in range(3)], page_size=500)
    app = make_app(direct_env(world), kv)
    full_started = int(clock.now())
    await app.scheduled("0 2 * * *")

    clock.advance(3600)
    world.seen.clear()
    await app.scheduled(HOURLY_CRON)

    assert world.requests("/source")[0].query["since"] == str(full_started - 60)


@pytest.mark.parametrize("endpoint", ["indexdocuments", "deletedocument"])
async def test_a_200_carrying_an_error_fails_the_run_and_keeps_the_checkpoint(
    world, make_app, kv, endpoint
):
    """Issue 12.10: it counted as success and moved the checkpoint."""
    world.serve_documents(
        [doc(1)], page_size=500, deleted=[{"id": "gone", "objectType": "Article"}]
    )
    world.script(endpoint, answer(200, {"error": {"message": "datasource is paused"}}))

    with pytest.raises(RunFailed, match=f"/{endpoint} answered HTTP 200 with an error"):
        await make_app(direct_env(world), kv).scheduled(HOURLY_CRON)
    assert await kv.get(CHECKPOINT_KEY) == str(CHECKPOINT)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<html>OK</html>", "not acceptable JSON"),
        (b"[" * 3000, "not acceptable JSON (JSON is nested 3000 levels deep"),
    ],
)
async def test_a_200_glean_cannot_have_meant_is_a_failure(world, make_app, kv, body, problem):
    world.serve_documents([doc(1)], page_size=500)
    world.script("indexdocuments", lambda: Response(body, status=200))

    with pytest.raises(RunFailed, match=re.escape(problem)):
        await make_app(direct_env(world), kv).scheduled(HOURLY_CRON)
    assert await kv.get(CHECKPOINT_KEY) == str(CHECKPOINT)


async def test_empty_and_plain_answers_from_glean_are_success(world, make_app, kv, clock):
    world.serve_documents([doc(n) for n in range(3)], page_size=1)
    world.script(
        "indexdocuments",
        lambda: Response(b"", status=200),
        lambda: Response(b"{}", status=200),
        lambda: Response(b'{"error": null}', status=200),
    )
    started = int(clock.now())

    record = await make_app(direct_env(world), kv).scheduled(HOURLY_CRON)

    assert record.documents_indexed == 3
    assert await kv.get(CHECKPOINT_KEY) == str(started)


async def test_a_source_past_its_page_cap_fails_and_keeps_the_checkpoint(world, make_app, kv):
    """Issue 12.9: a source returning fresh cursors for ever was read 20,001 times."""
    world.script(
        "source", *[answer(200, {"documents": [], "nextCursor": f"c{n}"}) for n in range(4)]
    )

    with pytest.raises(RunFailed, match=r"more than 3 pages \(DOCUMENT_SOURCE_MAX_PAGES\)"):
        await make_app(direct_env(world, DOCUMENT_SOURCE_MAX_PAGES="3"), kv).scheduled(HOURLY_CRON)
    assert len(world.requests("/source")) == 3
    assert await kv.get(CHECKPOINT_KEY) == str(CHECKPOINT)


async def test_refused_documents_do_not_hold_back_the_rest_or_the_checkpoint(
    world, make_app, kv, clock
):
    """The checkpoint moves: holding it would resend the same window every hour, growing, for
    as long as the source keeps the bad document; the next FULL run picks it up once fixed."""
    world.serve_documents(
        [doc(1), doc(2, permissions={"allowAnonymousAccess": "false"}), doc(3)], page_size=500
    )
    started = int(clock.now())

    record = await make_app(direct_env(world), kv).scheduled(HOURLY_CRON)

    [batch] = world.requests("/api/index/v1/indexdocuments")
    assert [d["id"] for d in batch.body["documents"]] == ["doc-000001", "doc-000003"]
    assert [r.to_json() for r in record.refused] == [
        {
            "id": "doc-000002",
            "reason": "permissions.allowAnonymousAccess must be true or false, got string",
        }
    ]
    assert await kv.get(CHECKPOINT_KEY) == str(started)
