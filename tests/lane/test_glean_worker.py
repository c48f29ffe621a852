"""The Glean orchestrator Worker (src/glean_worker.py) on real Pyodide 314 with a real
Miniflare KV namespace, pushing to a loopback Glean: the crons of 02:00 make exactly one FULL
run, ``/trigger`` authenticates and validates (deep, non-UTF-8 and oversized bodies included),
``/health`` reports runs to anyone and their errors only to the token holder, and a
misconfigured Worker names its variables."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from tests.support.hostile import LANE_BODIES
from werkzeug import Request, Response

from driver import LaneConfig, WorkerError

pytestmark = pytest.mark.lane

TOKEN = "lane-glean-trigger-token"
KV = "GLEAN_STATE"
AUTH = {"authorization": f"Bearer {TOKEN}"}
AT_0200_MS = int(datetime(2026, 11, 23, 2, 0, tzinfo=UTC).timestamp() * 1000)
DOCUMENTS = 1200
CHANGED = 150


def document(n: int) -> dict:
    return {
        "id": f"doc-{n:05d}",
        "objectType": "Article",
        "title": f"Document {n}",
        "viewURL": f"https://wiki.example.com/doc/{n}",
        "permissions": {"allowAnonymousAccess": True},
        "updatedAt": 1_763_000_000 + n,
    }


class Upstream:
    """The loopback server as Glean (``/api/index/v1/*``) and the document source
    (``/source``: DOCUMENTS documents in pages of 500; with ``since``, CHANGED changes and one
    deletion), recording what the Worker sent."""

    def __init__(self, server) -> None:
        self.seen: list[tuple[str, dict, object]] = []
        server.expect_request(re.compile("^/")).respond_with_handler(self.answer)

    def answer(self, request: Request) -> Response:
        raw = request.get_data()
        self.seen.append(
            (request.path.rsplit("/", 1)[-1], dict(request.args), json.loads(raw) if raw else None)
        )
        if request.path == "/source" and "since" in request.args:
            page = {
                "documents": [document(n) for n in range(CHANGED)],
                "deleted": [{"id": "doc-retired", "objectType": "Article"}],
                "nextCursor": None,
            }
            return Response(json.dumps(page), content_type="application/json")
        if request.path == "/denied":
            echo = f"key {request.args.get('apikey')} refused for {request.url}"
            return Response(json.dumps({"error": echo}), status=403)
        if request.path == "/source":
            start = int(request.args.get("cursor", "0"))
            end = min(start + 500, DOCUMENTS)
            page = {
                "documents": [document(n) for n in range(start, end)],
                "nextCursor": str(end) if end < DOCUMENTS else None,
            }
            return Response(json.dumps(page), content_type="application/json")
        return Response("{}", content_type="application/json")

    def endpoints(self) -> list[str]:
        return [endpoint for endpoint, _, _ in self.seen]

    def bodies(self, endpoint: str) -> list[object]:
        return [body for name, _, body in self.seen if name == endpoint]


def server_base(server) -> str:
    return server.url_for("/").rstrip("/")


def config(server) -> LaneConfig:
    base = server_base(server)
    return LaneConfig(
        main="src/glean_worker.py",
        kv_namespaces=(KV,),
        vars={
            "GLEAN_TRIGGER_TOKEN": TOKEN,
            "GLEAN_SERVER_URL": base,
            "GLEAN_INDEXING_API_TOKEN": "lane-glean-token",
            "GLEAN_DATASOURCE": "wiki",
            "DOCUMENT_SOURCE_URL": f"{base}/source",
            "GLEAN_FULL_CRON": "0 2 * * *",
            "GLEAN_INCREMENTAL_CRON": "0 * * * *",
        },
    )


@pytest.fixture
def upstream(httpserver) -> Upstream:
    return Upstream(httpserver)


@pytest.fixture
def lane(lane_factory, httpserver, upstream):
    lane = lane_factory(config(httpserver))
    lane.reset()
    return lane


def last_run(lane, mode: str) -> dict | None:
    raw = lane.kv_get(KV, f"glean:last-run:{mode}")
    return None if raw is None else json.loads(raw)


def lock_json(mode: str, *, expires_in: float) -> str:
    now = datetime.now(UTC).timestamp()
    return json.dumps(
        {"owner": "crashed-run", "mode": mode, "acquiredAt": now, "expiresAt": now + expires_in}
    )


def test_both_crons_at_0200_make_exactly_one_full_run(lane, upstream):
    lane.scheduled("0 2 * * *", AT_0200_MS)
    lane.scheduled("0 * * * *", AT_0200_MS)

    pages = upstream.bodies("bulkindexdocuments")
    assert [(p["isFirstPage"], p["isLastPage"], len(p["documents"])) for p in pages] == [
        (True, False, 1000),
        (False, True, 200),
    ]
    assert len({p["uploadId"] for p in pages}) == 1
    # The hourly cron of the same minute ran INCREMENTAL from the FULL run's checkpoint.
    assert upstream.endpoints()[-4:] == [
        "source",
        "indexdocuments",
        "indexdocuments",
        "deletedocument",
    ]
    assert "since" in upstream.seen[-4][1]
    assert upstream.bodies("deletedocument") == [
        {"datasource": "wiki", "objectType": "Article", "id": "doc-retired"}
    ]
    assert last_run(lane, "FULL")["status"] == "completed"
    assert last_run(lane, "FULL")["documentsIndexed"] == DOCUMENTS
    assert last_run(lane, "INCREMENTAL")["documentsDeleted"] == 1
    assert lane.kv_get(KV, "glean:lock") is None
    assert lane.kv_get(KV, "glean:unfinished-upload") is None
    events = [r["event"] for r in lane.json_logs()]
    assert events.count("glean.run_finished") == 2


def test_the_hourly_cron_first_still_leaves_exactly_one_full_run(lane, upstream):
    lane.scheduled("0 * * * *", AT_0200_MS)  # no checkpoint yet: nothing to do
    lane.scheduled("0 2 * * *", AT_0200_MS)

    assert upstream.endpoints().count("bulkindexdocuments") == 2
    assert sum(1 for p in upstream.bodies("bulkindexdocuments") if p["isFirstPage"]) == 1
    assert "indexdocuments" not in upstream.endpoints()
    assert last_run(lane, "INCREMENTAL")["status"] == "skipped"
    assert last_run(lane, "FULL")["status"] == "completed"


def test_a_full_run_in_progress_holds_off_both_crons_and_triggers(lane, upstream):
    lane.kv_put(KV, "glean:lock", lock_json("FULL", expires_in=3600), expiration_ttl=3600)

    lane.scheduled("0 2 * * *", AT_0200_MS)
    lane.scheduled("0 * * * *", AT_0200_MS)
    response = lane.fetch("POST", "/trigger", AUTH, json.dumps({"mode": "FULL"}))

    assert upstream.seen == []
    assert response.status == 409 and response.json()["running"]["runId"] == "crashed-run"


def test_an_expired_lock_does_not_block(lane, upstream):
    lane.kv_put(KV, "glean:lock", lock_json("FULL", expires_in=-1), expiration_ttl=3600)

    lane.scheduled("0 2 * * *", AT_0200_MS)

    assert upstream.endpoints().count("bulkindexdocuments") == 2


def test_a_triggered_run_answers_with_its_record(lane, upstream):
    response = lane.fetch("POST", "/trigger", AUTH, json.dumps({"mode": "FULL"}))

    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    run = response.json()["run"]
    assert (run["mode"], run["trigger"], run["status"], run["documentsIndexed"]) == (
        "FULL",
        "http",
        "completed",
        DOCUMENTS,
    )
    assert last_run(lane, "FULL") == run


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, {"mode": "FULL"}, 401),
        ({"authorization": "Bearer wrong"}, {"mode": "FULL"}, 401),
        (AUTH, {}, 400),
        (AUTH, {"mode": "full"}, 400),
        (AUTH, {"mode": "EVERYTHING"}, 400),
        (AUTH, "not json", 400),
    ],
)
def test_a_bad_trigger_is_refused_and_changes_nothing(lane, upstream, headers, body, status):
    raw = body if isinstance(body, str) else json.dumps(body)

    response = lane.fetch("POST", "/trigger", headers, raw)

    assert response.status == status and "error" in response.json()
    assert upstream.seen == []
    assert lane.kv_list(KV) == []


def test_health_reports_the_last_runs(lane):
    assert lane.fetch("GET", "/health").json() == {
        "status": "ok",
        "syncMode": "direct",
        "lastRuns": {"FULL": None, "INCREMENTAL": None},
        "running": None,
    }

    lane.scheduled("0 2 * * *", AT_0200_MS)
    body = lane.fetch("GET", "/health").json()

    assert body["lastRuns"]["FULL"]["status"] == "completed"
    assert body["lastRuns"]["INCREMENTAL"] is None


def test_a_misconfigured_worker_names_its_variables_and_crons_fail(lane_factory):
    lane = lane_factory(LaneConfig(main="src/glean_worker.py", kv_namespaces=(KV,)))
    lane.reset()

    response = lane.fetch("GET", "/health")

    assert response.status == 503
    assert response.json()["variables"] == [
        "GLEAN_TRIGGER_TOKEN",
        "CONNECTOR_API_URL",
        "DOCUMENT_SOURCE_URL",
    ]
    with pytest.raises(WorkerError, match="GLEAN_TRIGGER_TOKEN"):
        lane.scheduled("0 2 * * *", AT_0200_MS)
    assert lane.fetch("POST", "/trigger", AUTH, '{"mode":"FULL"}').status == 503
    # Each invocation says why in its log as it starts: /health, the cron, the trigger.
    logged = [r for r in lane.json_logs() if r["event"] == "glean.config_error"]
    assert len(logged) == 3 and all("GLEAN_TRIGGER_TOKEN" in r["errors"][0] for r in logged)


TRIGGER_BODIES = {
    **LANE_BODIES,
    # Deep values within /trigger's 1 KiB, so the depth check itself runs on Pyodide; the
    # first is the body that raised an uncaught RecursionError on CPython (issue 12.1).
    "deep-1000": b"[" * 1000,
    "deep-within-limit": b"[" * 500 + b"]" * 500,
}


@pytest.mark.parametrize("name", sorted(TRIGGER_BODIES))
def test_deep_and_non_utf8_trigger_bodies_are_refused_on_pyodide(lane, upstream, name):
    """A deeply nested body used to take the whole interpreter down on Pyodide; BOM and UTF-16
    bodies must not be decoded leniently. Bodies over 1 KiB are refused unread (413)."""
    body = TRIGGER_BODIES[name]

    response = lane.fetch("POST", "/trigger", AUTH, body)

    assert response.status == (413 if len(body) > 1024 else 400), response.body
    assert response.json()["error"]
    assert upstream.seen == [] and lane.kv_list(KV) == []
    assert lane.fetch("GET", "/health").status == 200  # the Worker is still there


def test_an_oversized_trigger_body_is_413_without_being_read_whole(lane, upstream):
    body = json.dumps({"mode": "FULL", "padding": "x" * (1024 * 1024)})

    response = lane.fetch("POST", "/trigger", AUTH, body)

    assert response.status == 413
    assert response.json() == {"error": "request body is larger than 1024 bytes"}
    assert upstream.seen == [] and lane.kv_list(KV) == []


def test_health_shows_a_stranger_no_source_url_and_no_upstream_text(
    lane_factory, httpserver, upstream
):
    """Issue 12.3: /health showed the source URL with its ``?apikey=`` and upstream excerpts.
    Here the source refuses the key and echoes it back."""
    base = config(httpserver)
    leaky = f"{server_base(httpserver)}/denied?apikey=lane-s3cret-key"
    lane = lane_factory(replace(base, vars={**dict(base.vars), "DOCUMENT_SOURCE_URL": leaky}))
    lane.reset()

    failed = lane.fetch("POST", "/trigger", AUTH, json.dumps({"mode": "FULL"}))
    public = lane.fetch("GET", "/health")
    private = lane.fetch("GET", "/health", AUTH)

    assert failed.status == 502 and upstream.endpoints() == ["denied"]
    assert public.json()["lastRuns"]["FULL"]["status"] == "error"
    assert "error" not in public.json()["lastRuns"]["FULL"]
    assert "denied" not in public.text and "s3cret" not in public.text
    assert private.json()["lastRuns"]["FULL"]["error"] == "the document source answered HTTP 403"
    assert not any("s3cret" in line for line in lane.logs())
