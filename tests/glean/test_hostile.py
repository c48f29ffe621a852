"""The Glean Worker's HTTP surface against hostile bodies and headers, on the core.

Whatever a stranger, or a caller holding the token, sends to ``/trigger`` or ``/health`` that
is not a valid trigger gets a clear 4xx JSON ``{"error": ...}``, and nothing changes: no KV
write (lock, run record, checkpoint) and no request upstream. The depth and encoding cases
also run on Pyodide (``tests/lane/test_glean_worker.py``).
"""

from __future__ import annotations

import asyncio
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flaresuite.glean.app import MAX_REQUEST_BODY, GleanApp
from flaresuite.http import HttpRequest, HttpResponse
from flaresuite.jsonbody import BadJson, parse_json
from flaresuite.stores.memory import MemoryKeyValue
from tests.glean.glean_fakes import TRIGGER_TOKEN, FakeClock, Logs
from tests.support.hostile import assert_clear_refusal, hostile_bodies, hostile_header_values

ENV = {
    "GLEAN_TRIGGER_TOKEN": TRIGGER_TOKEN,
    "GLEAN_SERVER_URL": "https://glean.test",
    "GLEAN_INDEXING_API_TOKEN": "glean-token",
    "GLEAN_DATASOURCE": "wiki",
    "DOCUMENT_SOURCE_URL": "https://source.test/docs",
}
AUTH = {"authorization": f"Bearer {TRIGGER_TOKEN}"}


async def no_upstream(request: HttpRequest) -> HttpResponse:
    raise AssertionError(f"refused input reached upstream: {request.method} {request.url}")


def handle(request: HttpRequest) -> tuple[HttpResponse, dict, Logs]:
    """The app's answer, and KV and the log afterwards, with a lock and a record in place."""
    clock = FakeClock()
    kv = MemoryKeyValue(clock)
    logs = Logs()

    async def go() -> HttpResponse:
        await kv.put("glean:checkpoint", "1763000000")
        app = GleanApp(ENV, kv, no_upstream, clock=clock, sleep=clock.sleep, log=logs)
        return await app.handle(request)

    response = asyncio.run(go())
    return response, dict(kv.values), logs


def is_a_valid_trigger(body: bytes) -> bool:
    try:
        payload = parse_json(body, max_bytes=MAX_REQUEST_BODY)
    except BadJson:
        return False
    return isinstance(payload, dict) and payload.get("mode") in ("FULL", "INCREMENTAL")


UNCHANGED = {"glean:checkpoint": ("1763000000", None)}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=hostile_bodies)
def test_a_hostile_trigger_body_with_the_token_is_refused_and_changes_nothing(body):
    if is_a_valid_trigger(body):
        return  # a real trigger, which runs (and is specified elsewhere)
    request = HttpRequest("POST", "https://glean.test/trigger", AUTH, body)

    response, kv, logs = handle(request)

    assert_clear_refusal(response)
    assert response.status in (400, 413)
    assert kv == UNCHANGED and logs == []


@settings(max_examples=200, deadline=None)
@given(authorization=hostile_header_values, body=hostile_bodies)
def test_a_stranger_gets_401_whatever_the_body(authorization, body):
    request = HttpRequest(
        "POST", "https://glean.test/trigger", {"authorization": authorization}, body
    )

    response, kv, _ = handle(request)

    assert_clear_refusal(response)
    assert response.status == 401 and kv == UNCHANGED
    assert TRIGGER_TOKEN not in response.body.decode()


@settings(max_examples=200, deadline=None)
@given(authorization=hostile_header_values)
def test_health_with_a_hostile_authorization_is_401_and_shows_nothing(authorization):
    request = HttpRequest("GET", "https://glean.test/health", {"authorization": authorization})

    response, kv, _ = handle(request)

    assert_clear_refusal(response)
    assert response.status == 401 and kv == UNCHANGED
    assert "lastRuns" not in json.loads(response.body)


@settings(max_examples=100, deadline=None)
@given(
    method=st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "get", "POST"]),
    path=st.sampled_from(["/", "/trigger/", "/health/", "/TRIGGER", "/trigger%00", "/.env"]),
    body=hostile_bodies,
)
def test_other_methods_and_paths_are_refused_and_change_nothing(method, path, body):
    response, kv, _ = handle(HttpRequest(method, f"https://glean.test{path}", AUTH, body))

    assert_clear_refusal(response)
    assert response.status in (404, 405) and kv == UNCHANGED


def test_an_oversized_body_is_refused_before_it_is_parsed():
    request = HttpRequest("POST", "https://glean.test/trigger", AUTH, b"", oversized=True)

    response, kv, _ = handle(request)

    assert_clear_refusal(response)
    assert response.status == 413 and kv == UNCHANGED
