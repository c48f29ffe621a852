"""Direct mode, FULL: one bulk upload per run, streamed from the source page by page."""

from __future__ import annotations

import json

import pytest

from flaresuite.glean.app import RunFailed
from flaresuite.glean.direct import REFUSALS_KEPT
from flaresuite.glean.state import CHECKPOINT_KEY, UNFINISHED_UPLOAD_KEY
from flaresuite.stores.memory import MemoryKeyValue
from tests.glean.glean_fakes import Logs, answer, direct_env, doc

FULL_CRON = "0 2 * * *"


def with_datasource(documents):
    return [{"datasource": "wiki", **d} for d in documents]


async def test_2500_documents_go_up_as_three_pages_of_one_upload(world, make_app, clock):
    documents = [doc(n) for n in range(2500)]
    world.serve_documents(documents, page_size=500)
    kv = MemoryKeyValue(clock)
    app = make_app(direct_env(world), kv)
    started = int(clock.now())

    record = await app.scheduled(FULL_CRON)

    # The page being filled leaves only when the next document proves it is not the last.
    assert world.sequence() == [
        "source",
        "source",
        "source",
        "bulkindexdocuments",
        "source",
        "source",
        "bulkindexdocuments",
        "bulkindexdocuments",
    ]
    sources = world.requests("/source")
    assert [s.query for s in sources] == [
        {"limit": "500"},
        {"limit": "500", "cursor": "1"},
        {"limit": "500", "cursor": "2"},
        {"limit": "500", "cursor": "3"},
        {"limit": "500", "cursor": "4"},
    ]
    assert all(s.headers["authorization"] == "Bearer source-token" for s in sources)
    pages = world.glean_requests()
    assert [p.body for p in pages] == [
        {
            "uploadId": "id-2",
            "datasource": "wiki",
            "isFirstPage": True,
            "isLastPage": False,
            "documents": with_datasource(documents[:1000]),
        },
        {
            "uploadId": "id-2",
            "datasource": "wiki",
            "isFirstPage": False,
            "isLastPage": False,
            "documents": with_datasource(documents[1000:2000]),
        },
        {
            "uploadId": "id-2",
            "datasource": "wiki",
            "isFirstPage": False,
            "isLastPage": True,
            "documents": with_datasource(documents[2000:]),
        },
    ]
    assert all(p.headers["authorization"] == "Bearer glean-token" for p in pages)
    assert all(p.headers["content-type"] == "application/json" for p in pages)
    assert record.status == "completed" and record.documents_indexed == 2500
    assert await kv.get(CHECKPOINT_KEY) == str(started)
    assert await kv.get(UNFINISHED_UPLOAD_KEY) is None


async def test_a_page_closes_before_it_would_pass_5_mib(world, make_app):
    big = "x" * (2 * 1024 * 1024)
    documents = [doc(n, body={"mimeType": "text/plain", "textContent": big}) for n in range(5)]
    world.serve_documents(documents, page_size=500)

    await make_app(direct_env(world)).scheduled(FULL_CRON)

    pages = world.glean_requests()
    assert [len(p.body["documents"]) for p in pages] == [2, 2, 1]
    assert [(p.body["isFirstPage"], p.body["isLastPage"]) for p in pages] == [
        (True, False),
        (False, False),
        (False, True),
    ]
    assert {p.body["uploadId"] for p in pages} == {"id-2"}


async def test_a_failure_mid_upload_makes_the_next_run_restart_it(world, make_app, clock):
    documents = [doc(n) for n in range(2500)]
    world.serve_documents(documents, page_size=500)
    kv = MemoryKeyValue(clock)
    app = make_app(direct_env(world), kv)
    # The second page is refused outright (400 is not retried).
    world.script("bulkindexdocuments", answer(200), answer(400, {"detail": "bad page"}))

    with pytest.raises(RunFailed, match="HTTP 400"):
        await app.scheduled(FULL_CRON)
    failed = json.loads(await kv.get("glean:last-run:FULL"))
    assert failed["status"] == "error" and "bad page" in failed["error"]
    assert await kv.get(UNFINISHED_UPLOAD_KEY) == "id-2"
    assert await kv.get(CHECKPOINT_KEY) is None
    assert await kv.get("glean:lock") is None, "a failed run releases the lock"

    clock.advance(3600)
    world.seen.clear()
    record = await app.scheduled(FULL_CRON)

    pages = world.glean_requests()
    assert [
        (
            p.body["uploadId"],
            p.body["isFirstPage"],
            p.body["isLastPage"],
            p.body.get("forceRestartUpload"),
        )
        for p in pages
    ] == [
        ("id-4", True, False, True),
        ("id-4", False, False, None),
        ("id-4", False, True, None),
    ]
    assert record.status == "completed" and record.documents_indexed == 2500
    assert await kv.get(UNFINISHED_UPLOAD_KEY) is None
    # A third run has nothing to restart.
    world.seen.clear()
    await app.scheduled(FULL_CRON)
    assert "forceRestartUpload" not in world.glean_requests()[0].body


async def test_a_429_storm_is_ridden_out_with_jittered_backoff(world, make_app, clock):
    world.serve_documents([doc(n) for n in range(10)], page_size=500)
    storm = [answer(429, {"code": "rate_limit_exceeded"}) for _ in range(4)]
    world.script("bulkindexdocuments", *storm)

    record = await make_app(direct_env(world)).scheduled(FULL_CRON)

    pages = world.glean_requests()
    assert len(pages) == 5 and all(p.body == pages[0].body for p in pages), (
        "the same page, resent until accepted"
    )
    assert pages[0].body["isFirstPage"] and pages[0].body["isLastPage"]
    # Full jitter: each delay is random but under a doubling ceiling (1, 2, 4, 8 s).
    assert len(clock.sleeps) == 4
    assert all(0 <= delay <= 2**n for n, delay in enumerate(clock.sleeps))
    assert len(set(clock.sleeps)) == 4
    assert record.status == "completed"


async def test_retry_after_is_honoured(world, make_app, clock):
    world.serve_documents([doc(1)], page_size=500)
    world.script("bulkindexdocuments", answer(429, retry_after="30"), answer(503))

    await make_app(direct_env(world)).scheduled(FULL_CRON)

    assert clock.sleeps[0] == 30
    assert 0 <= clock.sleeps[1] <= 2
    assert len(world.glean_requests()) == 3


async def test_a_storm_that_never_ends_fails_the_run_after_six_attempts(world, make_app, clock):
    world.serve_documents([doc(1)], page_size=500)
    world.script("bulkindexdocuments", *[answer(429) for _ in range(6)])
    kv = MemoryKeyValue(clock)

    with pytest.raises(RunFailed, match="failed 6 times; last: HTTP 429"):
        await make_app(direct_env(world), kv).scheduled(FULL_CRON)
    assert len(world.glean_requests()) == 6
    assert await kv.get(UNFINISHED_UPLOAD_KEY) == "id-2"


async def test_an_empty_source_never_empties_the_datasource(world, make_app):
    world.serve_documents([], page_size=500)

    with pytest.raises(RunFailed, match="listed no documents"):
        await make_app(direct_env(world)).scheduled(FULL_CRON)
    assert world.glean_requests() == []


async def test_an_invalid_document_is_refused_by_id_and_the_rest_are_indexed(
    world, make_app, clock
):
    """Issue 12.11: one bad document no longer stops the run; it is named with the reason."""
    documents = [doc(n) for n in range(3)]
    documents[1] = {**doc(1), "updatedAt": 1_763_000_000_000}
    world.serve_documents(documents, page_size=500)
    kv = MemoryKeyValue(clock)
    logs = Logs()

    record = await make_app(direct_env(world), kv, logs=logs).scheduled(FULL_CRON)

    [page] = world.glean_requests()
    assert [d["id"] for d in page.body["documents"]] == ["doc-000000", "doc-000002"]
    assert (record.status, record.documents_indexed, record.documents_refused) == (
        "completed",
        2,
        1,
    )
    refusal = {
        "id": "doc-000001",
        "reason": "updatedAt 1763000000000 looks like milliseconds; Glean wants epoch seconds",
    }
    assert json.loads(await kv.get("glean:last-run:FULL"))["refused"] == [refusal]
    assert [e for e in logs if e["event"] == "glean.document_refused"] == [
        {"event": "glean.document_refused", **refusal}
    ]


async def test_a_lone_surrogate_refuses_only_its_document_and_names_it(world, make_app, clock):
    """A JSON escape such as \\ud800 decodes to a lone surrogate, which UTF-8 cannot carry: it
    used to fail the whole run without naming the document."""
    documents = [doc(0), doc(1, title="broken \ud800 title"), doc(2)]
    world.serve_documents(documents, page_size=500)

    record = await make_app(direct_env(world)).scheduled(FULL_CRON)

    assert record.documents_indexed == 2
    assert [r.to_json() for r in record.refused] == [
        {"id": "doc-000001", "reason": "title holds a lone surrogate, which UTF-8 cannot encode"}
    ]


async def test_a_source_of_only_invalid_documents_never_empties_the_datasource(world, make_app):
    world.serve_documents([doc(n, permissions={}) for n in range(3)], page_size=500)

    with pytest.raises(RunFailed, match=r"listed no valid documents \(3 refused\)"):
        await make_app(direct_env(world)).scheduled(FULL_CRON)
    assert world.glean_requests() == []


async def test_only_the_first_refusals_are_kept_but_all_are_counted(world, make_app):
    documents = [doc(n, objectType="bad type") for n in range(30)] + [doc(30)]
    world.serve_documents(documents, page_size=500)

    record = await make_app(direct_env(world)).scheduled(FULL_CRON)

    assert (record.documents_refused, len(record.refused)) == (30, REFUSALS_KEPT)


async def test_a_200_carrying_an_error_fails_the_run_and_the_upload_stays_unfinished(
    world, make_app, clock
):
    """Issue 12.10: it counted as success and moved the checkpoint."""
    world.serve_documents([doc(1)], page_size=500)
    world.script("bulkindexdocuments", answer(200, {"error": "upload rejected"}))
    kv = MemoryKeyValue(clock)
    await kv.put(CHECKPOINT_KEY, "1700000000")

    with pytest.raises(RunFailed, match='bulkindexdocuments answered HTTP 200 with an error: "up'):
        await make_app(direct_env(world), kv).scheduled(FULL_CRON)
    assert await kv.get(CHECKPOINT_KEY) == "1700000000"
    assert await kv.get(UNFINISHED_UPLOAD_KEY) == "id-2"


async def test_a_source_past_its_page_cap_fails_the_run_before_the_last_page(
    world, make_app, clock
):
    """Issue 12.9: past DOCUMENT_SOURCE_MAX_PAGES the run fails and the checkpoint stays; no
    last page is sent, so Glean deletes nothing."""
    world.serve_documents([doc(n) for n in range(1500)], page_size=100)
    kv = MemoryKeyValue(clock)
    await kv.put(CHECKPOINT_KEY, "1700000000")

    with pytest.raises(RunFailed, match="more than 10 pages"):
        await make_app(direct_env(world, DOCUMENT_SOURCE_MAX_PAGES="10"), kv).scheduled(FULL_CRON)
    assert len(world.requests("/source")) == 10
    assert all(not p.body["isLastPage"] for p in world.glean_requests())
    assert await kv.get(CHECKPOINT_KEY) == "1700000000"


async def test_a_source_error_fails_the_run_and_keeps_the_checkpoint(world, make_app, clock):
    world.serve_documents([doc(n) for n in range(1500)], page_size=500)
    world.script("source", answer(200, world.pages[0]), answer(404, {"error": "gone"}))
    kv = MemoryKeyValue(clock)
    await kv.put(CHECKPOINT_KEY, "1700000000")

    with pytest.raises(RunFailed, match="document source answered HTTP 404"):
        await make_app(direct_env(world), kv).scheduled(FULL_CRON)
    assert await kv.get(CHECKPOINT_KEY) == "1700000000"
