"""Orchestrator mode: one authenticated call to the backend per run, retried on 5xx only,
with a timeout, and an answer that must keep to the contract before it is recorded."""

from __future__ import annotations

import json
import time

import pytest
from werkzeug import Response

from flaresuite.glean.app import RunFailed
from flaresuite.stores.memory import MemoryKeyValue
from tests.glean.glean_fakes import answer, backend_env

COMPLETED = {
    "status": "completed",
    "mode": "FULL",
    "documentsIndexed": 42,
    "timestamp": "2026-11-23T02:03:00Z",
}


async def test_the_backend_is_asked_to_index_and_its_result_is_recorded(world, make_app, clock):
    world.backend_answer = lambda request: answer(200, COMPLETED)
    kv = MemoryKeyValue(clock)

    record = await make_app(backend_env(world), kv).scheduled("0 2 * * *")

    [call] = world.seen
    assert (call.method, call.path) == ("POST", "/backend/index")
    assert call.headers["authorization"] == "Bearer backend-token"
    assert call.headers["content-type"] == "application/json"
    assert call.body == {"mode": "FULL", "glean_instance": "acme"}
    assert (record.status, record.documents_indexed) == ("completed", 42)
    stored = json.loads(await kv.get("glean:last-run:FULL"))
    assert stored["status"] == "completed" and stored["documentsIndexed"] == 42
    assert stored["runId"] == "id-1" and stored["trigger"] == "cron"


async def test_5xx_answers_are_retried_with_backoff(world, make_app, clock):
    world.backend_answer = lambda request: answer(200, {**COMPLETED, "mode": "INCREMENTAL"})
    world.script("index", answer(502), answer(503))

    record = await make_app(backend_env(world)).scheduled("0 * * * *")

    assert [s.body for s in world.seen] == [{"mode": "INCREMENTAL", "glean_instance": "acme"}] * 3
    retries, spacing = clock.sleeps[:2], clock.sleeps[2:]
    assert all(0 <= delay <= 2**n for n, delay in enumerate(retries))
    # The lock is released one second after it was taken, no sooner (KV's per-key limit).
    assert spacing == [pytest.approx(1 - sum(retries))]
    assert record.status == "completed"


async def test_a_backend_that_keeps_failing_fails_the_run(world, make_app, clock):
    world.backend_answer = lambda request: answer(500, {"detail": "db down"})
    kv = MemoryKeyValue(clock)

    with pytest.raises(RunFailed, match="failed 6 times; last: HTTP 500"):
        await make_app(backend_env(world), kv).scheduled("0 2 * * *")
    assert len(world.seen) == 6
    assert json.loads(await kv.get("glean:last-run:FULL"))["status"] == "error"


async def test_a_timeout_fails_the_run_without_a_second_request(world, make_app, clock):
    def slow(request):
        time.sleep(1.5)  # past CONNECTOR_API_TIMEOUT=1
        return answer(200, COMPLETED)

    world.backend_answer = slow
    kv = MemoryKeyValue(clock)

    with pytest.raises(RunFailed, match="no answer from the backend within 1 s"):
        await make_app(backend_env(world), kv).scheduled("0 2 * * *")
    assert len(world.seen) == 1, "the backend may be indexing: asking again would start twice"
    assert await kv.get("glean:lock") is None


async def test_a_4xx_answer_is_not_retried(world, make_app):
    world.backend_answer = lambda request: answer(401, {"error": "bad token"})

    with pytest.raises(RunFailed, match="backend answered HTTP 401"):
        await make_app(backend_env(world)).scheduled("0 2 * * *")
    assert len(world.seen) == 1


async def test_the_backends_own_error_is_recorded(world, make_app, clock):
    world.backend_answer = lambda request: answer(
        200, {"status": "error", "mode": "FULL", "error": "source API refused", "timestamp": "t"}
    )
    kv = MemoryKeyValue(clock)

    with pytest.raises(RunFailed, match="source API refused"):
        await make_app(backend_env(world), kv).scheduled("0 2 * * *")
    assert json.loads(await kv.get("glean:last-run:FULL"))["error"] == "source API refused"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ([COMPLETED], "not a JSON object"),
        ({**COMPLETED, "status": "done"}, "status must be 'completed' or 'error'"),
        ({**COMPLETED, "mode": "INCREMENTAL"}, "mode is 'INCREMENTAL', the request was FULL"),
        ({**COMPLETED, "documentsIndexed": -1}, "documentsIndexed must be a whole number"),
        ({**COMPLETED, "documentsIndexed": "42"}, "documentsIndexed must be a whole number"),
        ({**COMPLETED, "status": "error"}, "status is 'error' without an error message"),
        ({k: v for k, v in COMPLETED.items() if k != "timestamp"}, "timestamp is missing"),
    ],
)
async def test_an_answer_outside_the_contract_is_an_error(world, make_app, body, why):
    world.backend_answer = lambda request: answer(200, body)

    with pytest.raises(RunFailed, match="breaks the contract: " + why):
        await make_app(backend_env(world)).scheduled("0 2 * * *")


async def test_an_answer_that_is_not_json_is_an_error(world, make_app):
    world.backend_answer = lambda request: Response("<html>ok</html>", status=200)

    with pytest.raises(RunFailed, match="invalid JSON"):
        await make_app(backend_env(world)).scheduled("0 2 * * *")


async def test_the_lock_outlives_every_attempt_however_long_the_retries_take(
    world, make_app, clock
):
    kv = MemoryKeyValue(clock)
    timeout = 1700
    room: list[float] = []  # seconds of lock left as each attempt reaches the backend

    def slow_failure():
        room.append(json.loads(kv.values["glean:lock"][0])["expiresAt"] - clock.now())
        clock.advance(timeout - 100)  # each attempt fails just inside the timeout
        return answer(503)

    def success(request):
        room.append(json.loads(kv.values["glean:lock"][0])["expiresAt"] - clock.now())
        return answer(200, COMPLETED)

    world.script("index", *[slow_failure] * 4)
    world.backend_answer = success
    app = make_app(
        backend_env(world, CONNECTOR_API_TIMEOUT=str(timeout), GLEAN_LOCK_TTL="3600"), kv
    )

    record = await app.scheduled("0 2 * * *")

    assert record.status == "completed" and len(room) == 5
    # 8,000 s of attempts under a one-hour lock: renewed before a retry once half is gone.
    assert all(left > timeout for left in room)
    assert await kv.get("glean:lock") is None
