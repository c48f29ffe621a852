"""Orchestrator mode: one authenticated call to the backend per run, carrying the run id as its
``Idempotency-Key``, retried only when the backend says it started nothing (429, or 503 with
``Retry-After``) and only within the time the run has, and an answer that must keep to the
contract before it is recorded."""

from __future__ import annotations

import json
import random
import time

import pytest
from werkzeug import Response

from flaresuite.glean.app import GleanApp, RunFailed
from flaresuite.http import HttpRequest, HttpResponse
from flaresuite.stores.memory import MemoryKeyValue
from tests.glean.glean_fakes import Logs, answer, backend_env

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
    assert call.headers["idempotency-key"] == '"id-1"'
    assert call.body == {"mode": "FULL", "glean_instance": "acme"}
    assert (record.status, record.documents_indexed) == ("completed", 42)
    stored = json.loads(await kv.get("glean:last-run:FULL"))
    assert stored["status"] == "completed" and stored["documentsIndexed"] == 42
    assert stored["runId"] == "id-1" and stored["trigger"] == "cron"


async def test_refusals_that_started_nothing_are_retried_with_the_same_key(world, make_app, clock):
    world.backend_answer = lambda request: answer(200, {**COMPLETED, "mode": "INCREMENTAL"})
    world.script("index", answer(429), answer(503, retry_after="7"))

    record = await make_app(backend_env(world, CONNECTOR_API_TIMEOUT="600")).scheduled("0 * * * *")

    assert [s.body for s in world.seen] == [{"mode": "INCREMENTAL", "glean_instance": "acme"}] * 3
    assert {s.headers["idempotency-key"] for s in world.seen} == {'"id-1"'}
    # No wait but these two: the run took over a second, so KV's one write per second per
    # key never delays releasing the lock.
    jittered, asked = clock.sleeps
    assert 0 <= jittered <= 1, "429: jittered backoff"
    assert asked == 7, "503: the backend's Retry-After"
    assert record.status == "completed"


@pytest.mark.parametrize(
    "refusal",
    [answer(500), answer(502), answer(503), answer(504, retry_after="1"), answer(507)],
    ids=["500", "502", "503-without-retry-after", "504", "507"],
)
async def test_a_5xx_that_may_have_started_a_run_is_not_resent(world, make_app, clock, refusal):
    """Issue 12.7: resending after a 5xx could start a second backend run."""
    world.script("index", refusal)
    world.backend_answer = lambda request: answer(200, COMPLETED)
    kv = MemoryKeyValue(clock)

    with pytest.raises(RunFailed, match=f"the backend answered HTTP {refusal.status_code}: "):
        await make_app(backend_env(world), kv).scheduled("0 2 * * *")
    assert len(world.seen) == 1
    assert json.loads(await kv.get("glean:last-run:FULL"))["status"] == "error"


async def test_a_backend_that_keeps_refusing_fails_the_run(world, make_app, clock):
    world.backend_answer = lambda request: answer(429, {"detail": "slow down"})
    kv = MemoryKeyValue(clock)

    with pytest.raises(RunFailed, match="answered HTTP 429 6 times and no attempt is left"):
        await make_app(backend_env(world, CONNECTOR_API_TIMEOUT="600"), kv).scheduled("0 2 * * *")
    assert len(world.seen) == 6
    assert json.loads(await kv.get("glean:last-run:FULL"))["status"] == "error"


class ScriptedBackend:
    """The backend as an in-process fetch: each answer takes ``seconds`` of the fake clock;
    records each request's timeout and how much lock it had left."""

    def __init__(self, clock, kv, answers):
        self.clock, self.kv, self.answers = clock, kv, list(answers)
        self.timeouts: list[float] = []
        self.lock_left: list[float] = []

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        self.timeouts.append(request.timeout)
        lock = json.loads(self.kv.values["glean:lock"][0])
        self.lock_left.append(lock["expiresAt"] - self.clock.now())
        seconds, status, headers, body = self.answers.pop(0)
        self.clock.advance(seconds)
        return HttpResponse(status, headers, json.dumps(body).encode())


def backend_app(clock, kv, backend, timeout: int) -> GleanApp:
    env = {
        "GLEAN_TRIGGER_TOKEN": "t",
        "GLEAN_INSTANCE": "acme",
        "CONNECTOR_API_URL": "https://backend.test",
        "CONNECTOR_API_TOKEN": "b",
        "CONNECTOR_API_TIMEOUT": str(timeout),
    }
    return GleanApp(
        env, kv, backend, clock=clock, sleep=clock.sleep, rng=random.Random(3), log=Logs()
    )


async def test_waits_and_attempts_fit_in_what_the_run_has_left(clock):
    kv = MemoryKeyValue(clock)
    backend = ScriptedBackend(
        clock,
        kv,
        [
            (600, 503, {"retry-after": "30"}, {}),
            (100, 503, {"retry-after": "300"}, {}),  # 630 + 100 + 300 > 1000: no time for it
        ],
    )

    with pytest.raises(RunFailed, match="no retry fits in what is left of CONNECTOR_API_TIMEOUT"):
        await backend_app(clock, kv, backend, timeout=1000).scheduled("0 2 * * *")
    # Each attempt may take only what the run has left: 1000 s, then 1000 - 600 - 30.
    assert backend.timeouts == [1000, 370]
    assert all(
        left > timeout for left, timeout in zip(backend.lock_left, backend.timeouts, strict=True)
    )
    assert clock.sleeps[0] == 30


async def test_retry_after_as_an_http_date_is_honoured(clock):
    kv = MemoryKeyValue(clock)
    when = "Mon, 23 Nov 2026 02:01:00 GMT"  # the fake clock starts at 02:00:00
    backend = ScriptedBackend(
        clock, kv, [(0, 429, {"retry-after": when}, {}), (0, 200, {}, COMPLETED)]
    )

    record = await backend_app(clock, kv, backend, timeout=600).scheduled("0 2 * * *")

    assert record.status == "completed" and clock.sleeps[0] == 60


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
        ({**COMPLETED, "timestamp": 1763000000}, "timestamp must be a string when present"),
        ({**COMPLETED, "mode": "Fully"}, "mode is 'Fully', the request was FULL"),
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


@pytest.mark.parametrize(
    "body",
    [
        {"status": "completed", "mode": "full", "documentsIndexed": 42},
        {"status": "completed", "mode": "Full", "documentsIndexed": 42, "timestamp": None},
    ],
    ids=["sdk-lowercase-without-timestamp", "mixed-case-null-timestamp"],
)
async def test_answers_of_sdk_built_backends_are_accepted(world, make_app, body):
    """Issue 12.8: Glean's SDK answers lowercase modes, and its Lambda example omits
    ``timestamp``."""
    world.backend_answer = lambda request: answer(200, body)

    record = await make_app(backend_env(world)).scheduled("0 2 * * *")

    assert (record.status, record.documents_indexed) == ("completed", 42)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"[" * 5000, "nested 5000 levels deep"),
        (b'{"status": "error", "status": "completed"}', "names the same member more than once"),
        (b'{"documentsIndexed": Infinity}', "Infinity is not a JSON number"),
    ],
)
async def test_a_hostile_answer_fails_the_run_cleanly(world, make_app, body, why):
    world.backend_answer = lambda request: Response(body, status=200)

    with pytest.raises(RunFailed, match=f"invalid JSON \\(.*{why}"):
        await make_app(backend_env(world)).scheduled("0 2 * * *")
