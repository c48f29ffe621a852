"""Which cron runs which mode, and the lock that keeps runs from overlapping."""

from __future__ import annotations

import asyncio
import json

import pytest

from flaresuite.glean.app import RunFailed
from flaresuite.glean.lock import LOCK_KEY, KvLock, LockBusy
from flaresuite.glean.modes import Mode, UnknownCron
from flaresuite.glean.state import CHECKPOINT_KEY, UNFINISHED_UPLOAD_KEY
from flaresuite.stores.memory import MemoryKeyValue
from tests.glean.glean_fakes import Logs, OneWritePerSecondKV, answer, direct_env, doc

FULL_CRON, HOURLY_CRON = "0 2 * * *", "0 * * * *"


@pytest.fixture
async def kv(clock):
    kv = MemoryKeyValue(clock)
    await kv.put(CHECKPOINT_KEY, "1763000000")
    return kv


@pytest.mark.parametrize("first", [FULL_CRON, HOURLY_CRON])
async def test_both_crons_at_0200_make_exactly_one_full_run(world, make_app, kv, first):
    world.serve_documents([doc(n) for n in range(1200)], page_size=500)
    app = make_app(direct_env(world, GLEAN_FULL_LOCK_WAIT="86400"), kv)
    second = HOURLY_CRON if first == FULL_CRON else FULL_CRON

    results = dict(
        zip(
            [first, second],
            await asyncio.gather(app.scheduled(first), app.scheduled(second)),
            strict=True,
        )
    )

    bulk = world.requests("/api/index/v1/bulkindexdocuments")
    assert [(p.body["isFirstPage"], p.body["isLastPage"]) for p in bulk] == [
        (True, False),
        (False, True),
    ]
    assert len({p.body["uploadId"] for p in bulk}) == 1
    assert results[FULL_CRON].status == "completed"
    assert results[FULL_CRON].documents_indexed == 1200
    if first == FULL_CRON:
        # The hourly run found the FULL in progress; the FULL covers it.
        assert results[HOURLY_CRON] is None
    else:
        # The FULL waited for the hourly run to finish instead of being lost to it.
        assert results[HOURLY_CRON].status == "completed"
        assert world.sequence().index("bulkindexdocuments") > world.sequence().index(
            "indexdocuments"
        )


async def test_the_mode_comes_from_the_cron_expression_never_from_the_hour(
    world, make_app, kv, clock
):
    world.serve_documents([doc(1)], page_size=500)
    app = make_app(direct_env(world, GLEAN_FULL_CRON="30 3 * * 0"), kv)

    record = await app.scheduled(HOURLY_CRON)  # at 02:00, the old example's FULL hour
    assert record.mode is Mode.INCREMENTAL
    assert "bulkindexdocuments" not in world.sequence()

    assert (await app.scheduled("30  3 * * 0")).mode is Mode.FULL
    with pytest.raises(UnknownCron, match="'0 2 \\* \\* \\*' is not scheduled"):
        await app.scheduled(FULL_CRON)


async def test_a_full_run_in_progress_makes_the_scheduled_runs_skip(world, make_app, kv, clock):
    await KvLock(kv, clock, 3600).acquire("other-run", Mode.FULL)
    logs = Logs()
    app = make_app(direct_env(world), kv, logs=logs)

    assert await app.scheduled(HOURLY_CRON) is None
    assert await app.scheduled(FULL_CRON) is None
    assert world.seen == []
    assert logs.events().count("glean.run_skipped") == 2
    assert json.loads(await kv.get(LOCK_KEY))["owner"] == "other-run"


async def test_a_full_run_gives_up_waiting_for_a_stuck_incremental_run_loudly(
    world, make_app, kv, clock
):
    await KvLock(kv, clock, 7200).acquire("stuck-run", Mode.INCREMENTAL)
    app = make_app(direct_env(world, GLEAN_FULL_LOCK_WAIT="600"), kv)

    with pytest.raises(RunFailed, match="held the lock past GLEAN_FULL_LOCK_WAIT"):
        await app.scheduled(FULL_CRON)
    assert sum(clock.sleeps) == 600 and all(s <= 5 for s in clock.sleeps)
    assert world.seen == []
    assert json.loads(await kv.get("glean:last-run:FULL"))["status"] == "error"


async def test_the_lock_of_a_crashed_run_expires(world, make_app, kv, clock):
    world.serve_documents([doc(1)], page_size=500)
    await KvLock(kv, clock, 3600).acquire("crashed-run", Mode.FULL)
    app = make_app(direct_env(world, GLEAN_LOCK_TTL="3600"), kv)

    clock.advance(3599)
    assert await app.scheduled(HOURLY_CRON) is None

    clock.advance(1)
    record = await app.scheduled(HOURLY_CRON)
    assert record.status == "completed"
    assert await kv.get(LOCK_KEY) is None, "released after the run"


async def test_a_lock_past_its_own_expiry_is_free_even_if_kv_still_holds_it(kv, clock):
    lock = KvLock(kv, clock, 60)
    await kv.put(
        LOCK_KEY,
        json.dumps({"owner": "old", "mode": "FULL", "acquiredAt": 0, "expiresAt": clock.now() - 1}),
    )

    assert await lock.holder() is None
    holder = await lock.acquire("new", Mode.INCREMENTAL)
    assert holder.expires_at == clock.now() + 60
    assert kv.values[LOCK_KEY][1] == clock.now() + 60, "KV expires it too"


async def test_release_leaves_a_lock_another_run_took_after_expiry(kv, clock):
    lock = KvLock(kv, clock, 60)
    await lock.acquire("slow-run", Mode.FULL)
    clock.advance(61)
    await lock.acquire("next-run", Mode.FULL)

    await lock.release("slow-run")

    assert (await lock.holder()).owner == "next-run"


async def test_a_garbled_lock_counts_as_free(kv, clock):
    await kv.put(LOCK_KEY, "not json")
    assert await KvLock(kv, clock, 60).holder() is None


def slow_pages(world, clock, kv, seen_expiry, *, on_page=None):
    """Each bulk page takes 1000 s of (fake) time; records the lock's expiry as Glean sees it."""

    def page(number):
        def answer_page():
            clock.advance(1000)
            if on_page:
                on_page(number)
            seen_expiry.append(json.loads(kv.values[LOCK_KEY][0])["expiresAt"])
            return answer(200)

        return answer_page

    world.script("bulkindexdocuments", *(page(n) for n in range(1, 4)))


async def test_a_run_longer_than_the_lock_ttl_renews_the_lock(world, make_app, kv, clock):
    world.serve_documents([doc(n) for n in range(2500)], page_size=500)
    start = clock.now()
    expiry: list[float] = []
    slow_pages(world, clock, kv, expiry)

    record = await make_app(direct_env(world, GLEAN_LOCK_TTL="3600"), kv).scheduled(FULL_CRON)

    # Renewed once past half its TTL (after page 2), so it never lapses mid-run.
    assert expiry == [start + 3600, start + 3600, start + 2000 + 3600]
    assert record.status == "completed"
    assert await kv.get(LOCK_KEY) is None


async def test_a_run_whose_lock_was_taken_stops(world, make_app, kv, clock):
    world.serve_documents([doc(n) for n in range(2500)], page_size=500)
    thief = KvLock(kv, clock, 3600)

    def steal(number):
        if number == 2:
            kv.values[LOCK_KEY] = (
                json.dumps(
                    {
                        "owner": "thief",
                        "mode": "FULL",
                        "acquiredAt": clock.now(),
                        "expiresAt": clock.now() + 3600,
                    }
                ),
                None,
            )

    slow_pages(world, clock, kv, [], on_page=steal)

    with pytest.raises(RunFailed, match=r"run lock was lost \(run thief took it\)"):
        await make_app(direct_env(world, GLEAN_LOCK_TTL="3600"), kv).scheduled(FULL_CRON)
    assert len(world.glean_requests()) == 2, "no page after the lock was lost"
    assert (await thief.holder()).owner == "thief", "the thief's lock is left alone"


async def test_quick_runs_keep_to_kvs_one_write_per_second_per_key(world, make_app, clock):
    kv = OneWritePerSecondKV(clock)
    world.serve_documents([doc(1)], page_size=500)
    app = make_app(direct_env(world), kv)

    # A one-page FULL run records and clears its upload, then takes and releases the lock,
    # all within a moment; an INCREMENTAL run with no changes is quicker still.
    full = await app.scheduled(FULL_CRON)
    world.serve_documents([], page_size=500)
    incremental = await app.scheduled(HOURLY_CRON)

    assert (full.status, incremental.status) == ("completed", "completed")
    assert await kv.get(LOCK_KEY) is None
    assert await kv.get(UNFINISHED_UPLOAD_KEY) is None


async def test_a_lock_write_refused_because_another_run_just_took_it_is_busy(clock):
    kv = OneWritePerSecondKV(clock)
    first = KvLock(kv, clock, 3600)
    await first.acquire("cron-full", Mode.FULL)

    class RacedRead:
        """``kv`` as the second cron sees it: its first read predates the first cron's write."""

        stale = True

        async def get(self, key):
            if self.stale:
                self.stale = False
                return None
            return await kv.get(key)

        async def put(self, key, value, *, expiration_ttl=None):
            await kv.put(key, value, expiration_ttl=expiration_ttl)

    with pytest.raises(LockBusy) as busy:
        await KvLock(RacedRead(), clock, 3600).acquire("cron-hourly", Mode.INCREMENTAL)
    assert busy.value.holder.owner == "cron-full"
    assert (await first.holder()).owner == "cron-full"


async def test_a_run_keeps_its_lock_while_slow_source_pages_arrive(world, make_app, kv, clock):
    world.serve_documents([doc(n) for n in range(5)], page_size=1)
    room: list[float] = []  # seconds of lock left as each source page is asked for

    def slow_page(number):
        def answer_page():
            room.append(json.loads(kv.values[LOCK_KEY][0])["expiresAt"] - clock.now())
            clock.advance(1000)
            return answer(200, world.pages[number])

        return answer_page

    world.script("source", *(slow_page(n) for n in range(5)))

    record = await make_app(direct_env(world, GLEAN_LOCK_TTL="3600"), kv).scheduled(FULL_CRON)

    # 5,000 s of listing before the only Glean request, under a one-hour lock.
    assert record.status == "completed" and len(room) == 5
    assert all(left > 60 for left in room)
