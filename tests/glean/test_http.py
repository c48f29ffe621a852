"""``POST /trigger`` and ``GET /health``: bad input is a 4xx JSON error and changes nothing."""

from __future__ import annotations

import json

import pytest

from flaresuite.glean.app import GleanApp
from flaresuite.glean.config import ConfigError
from flaresuite.glean.lock import KvLock
from flaresuite.glean.modes import Mode
from flaresuite.glean.state import CHECKPOINT_KEY
from flaresuite.http import HttpRequest
from flaresuite.stores.memory import MemoryKeyValue
from tests.glean.glean_fakes import TRIGGER_TOKEN, Logs, answer, direct_env, doc

AUTH = {"authorization": f"Bearer {TRIGGER_TOKEN}"}


def trigger(body: object, headers=AUTH, method: str = "POST") -> HttpRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpRequest(method, "https://glean.example.workers.dev/trigger", headers, raw)


def health() -> HttpRequest:
    return HttpRequest("GET", "https://glean.example.workers.dev/health")


def parsed(response):
    assert response.header("content-type") == "application/json"
    return response.status, json.loads(response.body)


@pytest.fixture
async def kv(clock):
    return MemoryKeyValue(clock)


async def test_a_trigger_runs_the_mode_it_names(world, make_app, kv):
    world.serve_documents([doc(n) for n in range(3)], page_size=500)

    status, body = parsed(await make_app(direct_env(world), kv).handle(trigger({"mode": "FULL"})))

    assert status == 200
    assert body["run"]["mode"] == "FULL" and body["run"]["trigger"] == "http"
    assert body["run"]["status"] == "completed" and body["run"]["documentsIndexed"] == 3
    assert world.sequence() == ["source", "bulkindexdocuments"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer wrong-token"},
        {"authorization": f"Basic {TRIGGER_TOKEN}"},
        {"authorization": f"Bearer {TRIGGER_TOKEN}x"},
        {"authorization": "Bearer "},
    ],
)
async def test_a_trigger_without_the_right_bearer_token_is_401(world, make_app, kv, headers):
    response = await make_app(direct_env(world), kv).handle(trigger({"mode": "FULL"}, headers))

    assert parsed(response) == (401, {"error": "missing or wrong bearer token"})
    assert response.header("www-authenticate") == "Bearer"
    assert world.seen == [] and kv.values == {}


async def test_the_bearer_scheme_is_case_insensitive(world, make_app, kv):
    world.serve_documents([doc(1)], page_size=500)
    headers = {"authorization": f"bearer {TRIGGER_TOKEN}"}

    response = await make_app(direct_env(world), kv).handle(trigger({"mode": "FULL"}, headers))

    assert response.status == 200


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, 'mode must be "FULL" or "INCREMENTAL", got None'),
        ({"mode": "full"}, 'mode must be "FULL" or "INCREMENTAL", got \'full\''),
        ({"mode": "FULLL"}, "got 'FULLL'"),
        ({"mode": None}, "got None"),
        ({"mode": ["FULL"]}, "got ['FULL']"),
        (["FULL"], "body must be a JSON object"),
        (b"mode=FULL", "body must be JSON"),
        (b"", "body must be JSON"),
    ],
)
async def test_an_unknown_or_missing_mode_is_400_and_never_a_full_run(
    world, make_app, kv, body, error
):
    status, answer_body = parsed(await make_app(direct_env(world), kv).handle(trigger(body)))

    assert status == 400 and error in answer_body["error"]
    assert world.seen == [] and kv.values == {}


async def test_an_oversized_trigger_body_is_413(world, make_app, kv):
    body = {"mode": "FULL", "padding": "x" * 2000}

    status, _ = parsed(await make_app(direct_env(world), kv).handle(trigger(body)))

    assert status == 413 and world.seen == []


async def test_a_trigger_while_a_run_is_in_progress_is_409(world, make_app, kv, clock):
    await KvLock(kv, clock, 3600).acquire("cron-run", Mode.FULL)

    status, body = parsed(
        await make_app(direct_env(world), kv).handle(trigger({"mode": "INCREMENTAL"}))
    )

    assert status == 409
    assert body["error"] == "a FULL run (cron-run) is in progress"
    assert body["running"] == {"runId": "cron-run", "mode": "FULL", "since": "2026-11-23T02:00:00Z"}
    assert world.seen == []


async def test_an_incremental_trigger_before_any_full_run_is_409(world, make_app, kv):
    status, body = parsed(
        await make_app(direct_env(world), kv).handle(trigger({"mode": "INCREMENTAL"}))
    )

    assert status == 409 and "needs a FULL run first" in body["error"]


async def test_a_failed_triggered_run_is_502_with_its_record(world, make_app, kv):
    await kv.put(CHECKPOINT_KEY, "1763000000")
    world.script("source", answer(401, {"error": "who are you"}))

    status, body = parsed(
        await make_app(direct_env(world), kv).handle(trigger({"mode": "INCREMENTAL"}))
    )

    assert status == 502
    assert body["error"] == "the document source answered HTTP 401"
    assert body["run"]["status"] == "error"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/trigger", 405),
        ("POST", "/health", 405),
        ("GET", "/", 404),
        ("POST", "/trigger/", 404),
    ],
)
async def test_other_routes_and_methods_are_refused(world, make_app, kv, method, path, status):
    request = HttpRequest(
        method, f"https://glean.example.workers.dev{path}", AUTH, b'{"mode":"FULL"}'
    )

    response = await make_app(direct_env(world), kv).handle(request)

    assert response.status == status and "error" in json.loads(response.body)
    assert world.seen == []


async def test_health_reports_ok_and_the_last_run_of_each_mode(world, make_app, kv):
    world.serve_documents([doc(1)], page_size=500)
    app = make_app(direct_env(world), kv)
    assert parsed(await app.handle(health())) == (
        200,
        {
            "status": "ok",
            "syncMode": "direct",
            "lastRuns": {"FULL": None, "INCREMENTAL": None},
            "running": None,
        },
    )

    await app.scheduled("0 2 * * *")
    status, body = parsed(await app.handle(health()))

    assert status == 200 and body["status"] == "ok"
    assert body["lastRuns"]["FULL"] == {
        "runId": "id-1",
        "mode": "FULL",
        "trigger": "cron",
        "status": "completed",
        # One second later: the upload's KV record is cleared no sooner than KV allows.
        "startedAt": "2026-11-23T02:00:00Z",
        "finishedAt": "2026-11-23T02:00:01Z",
        "documentsIndexed": 1,
        "documentsDeleted": 0,
    }
    assert body["lastRuns"]["INCREMENTAL"] is None


async def test_health_shows_a_run_in_progress(world, make_app, kv, clock):
    await KvLock(kv, clock, 3600).acquire("cron-run", Mode.INCREMENTAL)

    _, body = parsed(await make_app(direct_env(world), kv).handle(health()))

    assert body["running"]["mode"] == "INCREMENTAL"


async def test_health_lists_every_config_error_and_no_secret(make_app, kv):
    app = make_app({"GLEAN_INDEXING_API_TOKEN": "s3cret-token"}, kv)

    status, body = parsed(await app.handle(health()))

    assert status == 503 and body["status"] == "error"
    assert body["errors"] == [
        "GLEAN_TRIGGER_TOKEN (secret) is not set: POST /trigger needs it",
        (
            "neither CONNECTOR_API_URL (orchestrator mode) nor DOCUMENT_SOURCE_URL (direct mode) "
            "is set: nothing to sync"
        ),
    ]
    assert body["lastRuns"] == {"FULL": None, "INCREMENTAL": None}
    assert "s3cret-token" not in json.dumps(body)


async def test_config_errors_are_logged_as_the_worker_starts(world, make_app, kv):
    logs = Logs()
    make_app(direct_env(world), kv, logs=logs)
    assert logs == [], "a sound configuration logs nothing"

    make_app(
        {"GLEAN_INDEXING_API_TOKEN": "s3cret-token", "DOCUMENT_SOURCE_URL": "ftp://x"},
        kv,
        logs=logs,
    )

    assert logs == [
        {
            "event": "glean.config_error",
            "errors": [
                "GLEAN_TRIGGER_TOKEN (secret) is not set: POST /trigger needs it",
                "DOCUMENT_SOURCE_URL must be an http(s) URL with a host",
                "set GLEAN_SERVER_URL (or GLEAN_INSTANCE) for direct mode",
                "GLEAN_DATASOURCE is not set: direct mode indexes into one datasource",
            ],
        }
    ]
    assert "s3cret-token" not in json.dumps(logs)


async def test_a_missing_kv_binding_is_a_config_error(world, fetch):
    app = GleanApp(direct_env(world), None, fetch, log=lambda *a, **k: None)

    status, body = parsed(await app.handle(health()))

    assert status == 503
    assert body["errors"] == ["the KV namespace binding GLEAN_STATE is missing (wrangler.toml)"]


async def test_a_misconfigured_worker_refuses_triggers_and_fails_crons(world, make_app, kv):
    app = make_app(direct_env(world, GLEAN_DATASOURCE=""), kv)

    status, body = parsed(await app.handle(trigger({"mode": "FULL"})))
    assert status == 503 and "GLEAN_DATASOURCE is not set" in body["error"]
    with pytest.raises(ConfigError, match="GLEAN_DATASOURCE is not set"):
        await app.scheduled("0 2 * * *")
    assert world.seen == [] and kv.values == {}


async def test_health_survives_an_unreadable_run_record(world, make_app, kv):
    await kv.put("glean:last-run:FULL", "{not json")

    status, body = parsed(await make_app(direct_env(world), kv).handle(health()))

    assert status == 200 and body["lastRuns"]["FULL"] == {"status": "unreadable"}
