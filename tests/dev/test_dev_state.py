"""Local state outlives ``flaresuite dev``, as it does ``wrangler dev``: a swarm's Durable Object
storage (the lane's, under ``.wrangler/state/v3/lane-durable-objects``) and Glean's KV
(Miniflare's) are there after a restart, and ``--reset`` wipes both. Glean's hourly
INCREMENTAL cron, run through ``/__scheduled``, starts from the checkpoint the FULL run left
in KV before the restart."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs

import httpx
import pytest
from werkzeug import Request, Response

from tests.dev.devserver import upgrade_status, write_dev_vars

pytestmark = pytest.mark.lane

ADMIN = "dev-swarm-admin-token-0123456789"
OWNER = {"authorization": f"Bearer {ADMIN}"}


def swarm_state(url: str) -> dict:
    answer = httpx.get(f"{url}/swarm/lab/state", headers=OWNER, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_swarm_survives_a_restart_and_reset_wipes_it(project, serve):
    write_dev_vars(project, ".dev.vars.swarm", {"SWARM_ADMIN_TOKEN": ADMIN})
    server = serve(project, "--env", "swarm")
    jobs = httpx.post(
        f"{server.url}/swarm/lab/jobs",
        params={"chunks": "3", "opsPerChunk": "1000"},
        headers=OWNER,
        timeout=60,
    )
    control = httpx.post(
        f"{server.url}/swarm/lab/control",
        params={"runState": "PAUSED", "throttle": "40"},
        headers=OWNER,
        timeout=60,
    )
    invite = httpx.post(
        f"{server.url}/swarm/lab/tokens", params={"multiUse": "true"}, headers=OWNER, timeout=60
    )
    assert (jobs.status_code, control.status_code, invite.status_code) == (201, 200, 201)
    token = invite.json()["token"]
    assert server.stop() == 0

    server = serve(project, "--env", "swarm")
    state = swarm_state(server.url)
    assert (state["runState"], state["throttle"]) == ("PAUSED", 40)
    assert [job["id"] for job in state["jobs"]] == [jobs.json()["jobId"]]
    assert state["queue"]["queued"] == 3
    # The invite issued before the restart still admits a device.
    assert upgrade_status(server.url, f"/swarm/lab/ws?token={token}&deviceId=device-1") == 101
    assert server.stop() == 0

    server = serve(project, "--env", "swarm", "--reset")
    state = swarm_state(server.url)
    assert (state["runState"], state["throttle"], state["jobs"]) == ("RUNNING", 100, [])
    assert upgrade_status(server.url, f"/swarm/lab/ws?token={token}&deviceId=device-1") == 401
    assert server.stop() == 0


TRIGGER = "dev-glean-trigger-token"
FULL, INCREMENTAL = "0 2 * * *", "0 * * * *"


def glean_health(url: str) -> dict:
    answer = httpx.get(f"{url}/health", headers={"authorization": f"Bearer {TRIGGER}"}, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()


def run_cron(server, cron: str) -> None:
    response = httpx.get(f"{server.url}/__scheduled", params={"cron": cron}, timeout=120)
    assert (response.status_code, response.text) == (200, "Ran scheduled event"), "\n".join(
        server.lines()
    )


def test_glean_state_survives_a_restart_the_incremental_cron_uses_it_and_reset_wipes_it(
    project, serve, httpserver
):
    calls: list[tuple[str, dict[str, list[str]]]] = []

    def answer(request: Request) -> Response:
        calls.append((request.path, parse_qs(request.query_string.decode())))
        if request.path != "/source":
            return Response("{}", content_type="application/json")
        page = {
            "documents": [
                {
                    "id": "doc-1",
                    "objectType": "Article",
                    "title": "Document 1",
                    "viewURL": "https://wiki.example.com/doc/1",
                    "permissions": {"allowAnonymousAccess": True},
                    "updatedAt": 1_763_000_001,
                }
            ],
            "deleted": [{"id": "doc-0", "objectType": "Article"}],
            "nextCursor": None,
        }
        return Response(json.dumps(page), content_type="application/json")

    httpserver.expect_request(re.compile("^/")).respond_with_handler(answer)
    base = httpserver.url_for("/").rstrip("/")
    write_dev_vars(
        project,
        ".dev.vars.glean",
        {
            "GLEAN_TRIGGER_TOKEN": TRIGGER,
            "GLEAN_SERVER_URL": base,
            "GLEAN_INDEXING_API_TOKEN": "dev-glean-token",
            "GLEAN_DATASOURCE": "wiki",
            "DOCUMENT_SOURCE_URL": f"{base}/source",
        },
    )
    server = serve(project, "--env", "glean")
    run_cron(server, FULL)
    full = glean_health(server.url)["lastRuns"]["FULL"]
    assert full["status"] == "completed", full
    assert server.stop() == 0

    server = serve(project, "--env", "glean")
    assert glean_health(server.url)["lastRuns"]["FULL"] == full
    calls.clear()
    run_cron(server, INCREMENTAL)
    runs = glean_health(server.url)["lastRuns"]
    assert runs["INCREMENTAL"]["status"] == "completed", runs
    assert (runs["INCREMENTAL"]["documentsIndexed"], runs["INCREMENTAL"]["documentsDeleted"]) == (
        1,
        1,
    )
    # Changes since the FULL run's checkpoint, through the incremental endpoints.
    assert [query.get("since") is not None for path, query in calls if path == "/source"] == [True]
    paths = {path for path, _query in calls}
    assert {"/api/index/v1/indexdocuments", "/api/index/v1/deletedocument"} <= paths
    assert "/api/index/v1/bulkindexdocuments" not in paths
    assert server.wait_for_line(
        r'^\[dev\] GET /__scheduled\?\[redacted\] 200 \(cron "0 \* \* \* \*"'
    )
    assert server.stop() == 0

    server = serve(project, "--env", "glean", "--reset")
    assert glean_health(server.url)["lastRuns"] == {"FULL": None, "INCREMENTAL": None}
    # No checkpoint any more: the INCREMENTAL run is skipped until a FULL one runs.
    run_cron(server, INCREMENTAL)
    assert glean_health(server.url)["lastRuns"]["INCREMENTAL"]["status"] == "skipped"
    assert server.stop() == 0
