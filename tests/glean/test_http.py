"""``POST /trigger`` and ``GET /health``: bad input is a 4xx JSON error and changes nothing."""

from __future__ import annotations

import json

import pytest

from flaresuite.errors import ConfigError
from flaresuite.glean.app import GleanApp
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


def health(headers=None) -> HttpRequest:
    return HttpRequest("GET", "https://glean.example.workers.dev/health", headers or {})


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


async def test_a_body_the_host_stopped_reading_is_413(world, make_app, kv):
    request = HttpRequest(
        "POST", "https://glean.example.workers.dev/trigger", AUTH, b"", oversized=True
    )

    status, body = parsed(await make_app(direct_env(world), kv).handle(request))

    assert status == 413 and body == {"error": "request body is larger than 1024 bytes"}
    assert world.seen == [] and kv.values == {}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"[" * 1000, "nested 1000 levels deep"),
        (b"[" * 65 + b"]" * 65, "nested 65 levels deep"),
        (b'{"mode": "FULL", "mode": "INCREMENTAL"}', "names the same member more than once"),
        (b'{"mode": "FULL", "x": NaN}', "NaN is not a JSON number"),
        (b"\xef\xbb\xbf" + b'{"mode": "FULL"}', "without a byte-order mark"),
        ('{"mode": "FULL"}'.encode("utf-16"), "without a byte-order mark"),
        ('{"mode": "FULL"}'.encode("utf-16-le"), "body must be JSON"),
    ],
)
async def test_a_body_the_json_guard_refuses_is_400_and_changes_nothing(
    world, make_app, kv, body, error
):
    """``"["*1000`` raised an uncaught RecursionError (issue 12.1); a duplicated ``mode`` must
    not pick one silently."""
    status, answer_body = parsed(await make_app(direct_env(world), kv).handle(trigger(body)))

    assert status == 400 and error in answer_body["error"]
    assert world.seen == [] and kv.values == {}


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
        "documentsRefused": 0,
    }
    assert body["lastRuns"]["INCREMENTAL"] is None


async def test_health_shows_a_run_in_progress(world, make_app, kv, clock):
    await KvLock(kv, clock, 3600).acquire("cron-run", Mode.INCREMENTAL)

    _, body = parsed(await make_app(direct_env(world), kv).handle(health()))

    assert body["running"]["mode"] == "INCREMENTAL"


async def test_a_misconfigured_worker_answers_503_naming_only_the_variables(make_app, kv):
    app = make_app({"GLEAN_INDEXING_API_TOKEN": "s3cret-token"}, kv)

    for request in (health(), health(AUTH), trigger({"mode": "FULL"})):
        response = await app.handle(request)
        status, body = parsed(response)

        assert status == 503 and response.header("cache-control") == "no-store"
        assert body == {
            "error": (
                "the Worker is misconfigured; check GLEAN_TRIGGER_TOKEN, CONNECTOR_API_URL, "
                "DOCUMENT_SOURCE_URL"
            ),
            "variables": ["GLEAN_TRIGGER_TOKEN", "CONNECTOR_API_URL", "DOCUMENT_SOURCE_URL"],
        }
    assert kv.values == {}


async def test_config_errors_are_logged_as_the_worker_starts(world, make_app, kv):
    logs = Logs()
    make_app(direct_env(world), kv, logs=logs)
    assert logs == [], "a sound configuration logs nothing"

    make_app(
        {
            "GLEAN_INDEXING_API_TOKEN": "s3cret-token",
            "DOCUMENT_SOURCE_URL": "ftp://x?apikey=s3cret-key",
        },
        kv,
        logs=logs,
    )

    assert logs == [
        {
            "event": "glean.config_error",
            "errors": [
                "GLEAN_TRIGGER_TOKEN: is not set (a secret): POST /trigger needs it",
                "GLEAN_SERVER_URL: is not set, nor is GLEAN_INSTANCE: direct mode needs one",
                "GLEAN_DATASOURCE: is not set: direct mode indexes into one datasource",
                "DOCUMENT_SOURCE_URL: must be a https/http URL with a host",
            ],
            "variables": [
                "GLEAN_TRIGGER_TOKEN",
                "GLEAN_SERVER_URL",
                "GLEAN_DATASOURCE",
                "DOCUMENT_SOURCE_URL",
            ],
        }
    ]
    assert "s3cret" not in json.dumps(logs)


async def test_a_missing_kv_binding_is_a_config_error(world, fetch):
    app = GleanApp(direct_env(world), None, fetch, log=lambda *a, **k: None)

    status, body = parsed(await app.handle(health()))

    assert status == 503 and body["variables"] == ["GLEAN_STATE"]
    assert app.config_error.problems[0].message == (
        "binding is missing (declare it in wrangler.toml for this env)"
    )


async def test_a_misconfigured_worker_refuses_triggers_and_fails_crons(world, make_app, kv):
    app = make_app(direct_env(world, GLEAN_DATASOURCE=" "), kv)

    status, body = parsed(await app.handle(trigger({"mode": "FULL"})))
    assert status == 503 and body["variables"] == ["GLEAN_DATASOURCE"]
    with pytest.raises(ConfigError, match="GLEAN_DATASOURCE: is not set"):
        await app.scheduled("0 2 * * *")
    assert world.seen == [] and kv.values == {}


async def test_health_survives_an_unreadable_run_record(world, make_app, kv):
    await kv.put("glean:last-run:FULL", "{not json")

    status, body = parsed(await make_app(direct_env(world), kv).handle(health()))

    assert status == 200 and body["lastRuns"]["FULL"] == {"status": "unreadable"}


async def test_health_shows_a_stranger_no_error_text_and_the_token_holder_all(world, make_app, kv):
    """Issue 12.3: a failed run's error can name the source and quote upstream answers."""
    await kv.put(CHECKPOINT_KEY, "1763000000")
    world.script("source", *[answer(500, {"detail": "db password expired for admin"})] * 6)
    app = make_app(direct_env(world), kv)
    await app.handle(trigger({"mode": "INCREMENTAL"}))

    status, public = parsed(await app.handle(health()))
    _, private = parsed(await app.handle(health(AUTH)))

    assert status == 200
    assert public["lastRuns"]["INCREMENTAL"] == {
        "runId": "id-1",
        "mode": "INCREMENTAL",
        "trigger": "http",
        "status": "error",
        "startedAt": "2026-11-23T02:00:00Z",
        "finishedAt": private["lastRuns"]["INCREMENTAL"]["finishedAt"],
        "documentsIndexed": 0,
        "documentsDeleted": 0,
        "documentsRefused": 0,
    }
    assert "password" not in json.dumps(public) and "/source" not in json.dumps(public)
    assert "db password expired" in private["lastRuns"]["INCREMENTAL"]["error"]


@pytest.mark.parametrize(
    "headers", [{"authorization": "Bearer wrong"}, {"authorization": ""}, {"authorization": "x"}]
)
async def test_health_with_a_wrong_token_is_401(world, make_app, kv, headers):
    response = await make_app(direct_env(world), kv).handle(health(headers))

    assert parsed(response) == (401, {"error": "missing or wrong bearer token"})


async def test_an_unreachable_source_leaves_its_query_nowhere(make_app, kv, clock):
    """Issue 12.3: the source URL's ``?apikey=`` showed on /health through transport errors."""
    env = {
        "GLEAN_TRIGGER_TOKEN": TRIGGER_TOKEN,
        "GLEAN_SERVER_URL": "http://127.0.0.1:9",
        "GLEAN_INDEXING_API_TOKEN": "glean-token",
        "GLEAN_DATASOURCE": "wiki",
        "DOCUMENT_SOURCE_URL": "http://127.0.0.1:9/source?apikey=s3cret-key",
    }
    logs = Logs()
    app = make_app(env, kv, logs=logs)

    status, answer_body = parsed(await app.handle(trigger({"mode": "FULL"})))
    _, public = parsed(await app.handle(health()))
    _, private = parsed(await app.handle(health(AUTH)))

    error = private["lastRuns"]["FULL"]["error"]
    assert status == 502 and error.startswith(
        "GET http://127.0.0.1:9/source?[redacted] failed 6 times; last: no response ("
    )
    for shown in (answer_body, public, private, logs, kv.values):
        assert "s3cret" not in json.dumps(shown)
    assert "127.0.0.1" not in json.dumps(public)
