"""The swarm's HTTP routes (flaresuite.swarm.web), shared by the Durable Object and the server."""

from __future__ import annotations

import json

import pytest

from flaresuite.errors import ConfigError, Problem
from flaresuite.http import HttpRequest, HttpResponse
from flaresuite.swarm.config import SwarmConfig
from flaresuite.swarm.web import Location, Reply, Upgrade, handle, locate, route

from .harness import Harness

ADMIN = "admin-secret"
CONFIG = SwarmConfig(admin_token=ADMIN, allowed_origins=frozenset({"https://dash.example"}))
BASE = "https://swarm.example/swarm/lab"
OWNER = {"authorization": f"Bearer {ADMIN}"}
UPGRADE = {"upgrade": "websocket"}
"""Header names are lower case in an HttpRequest: hosts normalise them."""


def call(h: Harness, method: str, path: str, headers=None, body=b"", config=CONFIG):
    result = handle(
        h.coordinator, HttpRequest(method, BASE + path, headers or {}, body), config, h.now
    )
    h.apply(result.effects)
    return result


def body(reply: Reply):
    return json.loads(reply.response.body)


def test_the_dashboard_is_html_with_the_swarm_id_escaped():
    h = Harness("lab")
    reply = call(h, "GET", "")
    assert reply.response.status == 200
    assert reply.response.header("content-type").startswith("text/html")
    assert b'"lab"' in reply.response.body and b"WebSocket" in reply.response.body


def test_the_owner_issues_invites_and_they_admit_a_device():
    h = Harness()
    reply = call(h, "POST", "/tokens?multiUse=true", OWNER)
    assert reply.response.status == 201
    issued = body(reply)
    assert issued["multiUse"] is True and issued["expiresAt"] == h.now + 24 * 3600
    upgrade = call(h, "GET", f"/ws?token={issued['token']}&deviceId=d1", UPGRADE)
    assert isinstance(upgrade, Upgrade) and upgrade.admission.attachment.device_id == "d1"


def test_the_sixth_invite_in_a_minute_is_429():
    h = Harness()
    for _ in range(5):
        assert call(h, "POST", "/tokens", OWNER).response.status == 201
    reply = call(h, "POST", "/tokens", OWNER)
    assert reply.response.status == 429 and "error" in body(reply)
    assert h.security_logs()[-1]["event"] == "invite_rate_limited"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer wrong"},
        {"authorization": f"Bearer {ADMIN}x"},
        {"authorization": ADMIN},
    ],
)
def test_owner_routes_need_the_bearer_token(headers):
    h = Harness()
    for method, path in (("POST", "/tokens"), ("POST", "/jobs?chunks=3"), ("GET", "/state")):
        reply = call(h, method, path, headers)
        assert reply.response.status == 401 and body(reply) == {
            "error": "missing or wrong bearer token"
        }
    assert h.coordinator.invites.invites == {} and h.coordinator.chunks == {}


def test_a_misconfigured_worker_answers_503_naming_the_variable_before_any_swarm():
    problem = ConfigError([Problem("SWARM_ADMIN_TOKEN", "is not set")])
    answer = route(BASE + "/tokens", problem)
    assert isinstance(answer, HttpResponse) and answer.status == 503
    assert json.loads(answer.body)["variables"] == ["SWARM_ADMIN_TOKEN"]
    assert route(BASE + "/ws", CONFIG) == "lab"
    assert route("https://swarm.example/ostrich/lab/ws", CONFIG) == "lab"
    assert route("https://swarm.example/elsewhere", CONFIG).status == 404


def test_jobs_are_queued_and_visible_in_the_state():
    h = Harness()
    reply = call(h, "POST", "/jobs?kind=MAT_MUL&chunks=7&opsPerChunk=5", OWNER)
    assert reply.response.status == 201 and body(reply)["chunks"] == 7
    state = body(call(h, "GET", "/state", OWNER))
    assert state["queue"]["queued"] == 7 and state["jobs"][0]["kind"] == "MAT_MUL"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/jobs?chunks=0", 400),
        ("/jobs?chunks=-1", 400),
        ("/jobs?chunks=abc", 400),
        ("/jobs?chunks=%C2%B2", 400),  # "²" is a digit to str.isdigit() but not to int()
        ("/jobs?chunks=" + "9" * 13, 400),
        ("/jobs?kind=EVIL", 400),
        ("/jobs?kind=MAT_MUL&opsPerChunk=" + str(256**3 + 1), 400),
        ("/tokens?multiUse=maybe", 400),
        ("/tokens?code=true&length=5", 400),
        ("/tokens?code=true&length=9", 400),
        ("/tokens?length=6", 400),
        ("/control", 400),
        ("/control?runState=RUNNING&mode=evil", 400),
        ("/control?runState=running", 400),
        ("/control?throttle=9", 400),
        ("/control?throttle=101", 400),
        ("/control?throttle=50&runState=NOPE", 400),
        ("/control?inviteeCommands=run,shutdown", 400),
        ("/devices/ghost?enabled=false", 404),
        ("/devices/ghost", 400),
    ],
)
def test_bad_owner_parameters_are_400_and_change_nothing(path, status):
    h = Harness()
    reply = call(h, "POST", path, OWNER)
    assert reply.response.status == status and "error" in body(reply)
    assert h.coordinator.chunks == {} and h.coordinator.invites.invites == {}
    assert h.coordinator.settings() == {
        "runState": "RUNNING",
        "throttle": 100,
        "inviteeCommands": [],
    }


def test_a_body_is_refused():
    h = Harness()
    assert call(h, "POST", "/tokens", OWNER, body=b'{"multiUse": true}').response.status == 400


@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        ("?token=nope&deviceId=d1", UPGRADE, 401),
        ("?deviceId=d1", UPGRADE, 401),
        ("?token=TOKEN&deviceId=bad%20id", UPGRADE, 400),
        ("?token=TOKEN&deviceId=d1", {}, 426),
        ("?token=TOKEN&deviceId=d1", {**UPGRADE, "origin": "https://evil.example"}, 403),
    ],
)
def test_bad_upgrades_are_refused_before_any_socket_exists(query, headers, status):
    h = Harness()
    token = h.invite(multi_use=False)
    reply = call(h, "GET", "/ws" + query.replace("TOKEN", token), headers)
    assert isinstance(reply, Reply) and reply.response.status == status
    assert h.coordinator.devices == {} and h.coordinator.sockets == {}
    assert h.coordinator.invites.find(token, h.now) is not None, "a refused join spends no token"


@pytest.mark.parametrize("origin", ["https://dash.example", "https://swarm.example"])
def test_allowed_and_same_origins_may_upgrade(origin):
    h = Harness()
    token = h.invite()
    result = call(h, "GET", f"/ws?role=observer&token={token}", {**UPGRADE, "origin": origin})
    assert isinstance(result, Upgrade)


def test_cors_is_limited_to_allowed_origins():
    h = Harness()
    preflight = call(h, "OPTIONS", "/tokens", {"origin": "https://dash.example"})
    assert preflight.response.status == 204
    assert preflight.response.header("access-control-allow-origin") == "https://dash.example"
    assert call(h, "OPTIONS", "/tokens", {"origin": "https://evil.example"}).response.status == 403
    reply = call(h, "GET", "/state", {**OWNER, "origin": "https://dash.example"})
    assert reply.response.header("access-control-allow-origin") == "https://dash.example"


def test_unknown_paths_and_methods():
    h = Harness()
    assert call(h, "GET", "/nope").response.status == 404
    assert call(h, "DELETE", "/tokens", OWNER).response.status == 405
    assert call(h, "GET", "/tokens", OWNER).response.status == 405


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x/swarm/lab", Location("lab", "swarm", "")),
        ("https://x/swarm/lab/ws?token=1", Location("lab", "swarm", "/ws")),
        ("https://x/swarm/a_b-9/tokens", Location("a_b-9", "swarm", "/tokens")),
        ("https://x/ostrich/lab/ws?persistentId=node-1", Location("lab", "ostrich", "/ws")),
        ("https://x/swarm/", None),
        ("https://x/swarm/bad.id/ws", None),
        ("https://x/swarm/" + "a" * 65, None),
        ("https://x/other/lab", None),
    ],
)
def test_swarm_ids_in_paths(url, expected):
    assert locate(url) == expected


def test_requests_that_change_nothing_leave_a_new_swarm_without_storage():
    h = Harness()
    h.evict()  # as a Durable Object meets its first request: rebuilt from empty storage
    for method, path, headers, status in (
        ("GET", "", {}, 200),
        ("GET", "/ws?token=nope&deviceId=d1", UPGRADE, 401),
        ("POST", "/tokens", {}, 401),
        ("GET", "/state", {"authorization": "Bearer wrong"}, 401),
        ("OPTIONS", "/tokens", {"origin": "https://evil.example"}, 403),
        ("GET", "/nope", {}, 404),
    ):
        assert call(h, method, path, headers).response.status == status
    assert h.stored == {}
    call(h, "POST", "/tokens", OWNER)
    assert json.loads(h.stored["meta"])["swarm"] == "lab", "the first change names the swarm"


def test_the_join_page_and_its_worker_are_public():
    h = Harness()
    page = call(h, "GET", "/join?invite=K7QM4XPA")
    assert page.response.status == 200
    assert page.response.header("content-type").startswith("text/html")
    assert "default-src 'none'" in page.response.header("content-security-policy")
    assert b"worker.js" in page.response.body and b'"lab"' in page.response.body
    worker = call(h, "GET", "/worker.js")
    assert worker.response.header("content-type").startswith("text/javascript")
    assert b"MATH_STRESS" in worker.response.body and b"MAT_MUL" in worker.response.body
    assert call(h, "POST", "/join").response.status == 405
    assert h.stored == {}


def test_a_code_comes_with_its_join_link_and_a_qr_code_of_it():
    h = Harness()
    reply = call(h, "POST", "/tokens?multiUse=true&code=true&length=6", OWNER)
    issued = body(reply)
    assert reply.response.status == 201 and issued["code"] is True
    assert len(issued["token"]) == 6
    assert issued["joinUrl"] == f"https://swarm.example/swarm/lab/join?invite={issued['token']}"
    assert (
        issued["qrSvg"].startswith("<svg")
        and 'xmlns="http://www.w3.org/2000/svg"' in issued["qrSvg"]
    )
    code = issued["token"]
    typed = code[:3].lower() + "-" + code[3:]  # as a person types it
    assert isinstance(call(h, "GET", f"/ws?token={typed}&deviceId=d1", UPGRADE), Upgrade)


def test_the_owner_steers_the_swarm_with_control():
    h = Harness()
    reply = call(
        h, "POST", "/control?runState=PAUSED&throttle=50&inviteeCommands=run,invite", OWNER
    )
    assert reply.response.status == 200
    assert body(reply) == {
        "runState": "PAUSED",
        "throttle": 50,
        "inviteeCommands": ["invite", "run"],
    }
    assert body(call(h, "POST", "/control?inviteeCommands=none", OWNER))["inviteeCommands"] == []
    s = h.join("d1")
    assert body(call(h, "POST", "/devices/d1?enabled=false", OWNER))["runState"] == "PAUSED"
    assert h.coordinator.devices["d1"].enabled is False
    assert h.messages(s, "CONTROL")[-1] == {"runState": "PAUSED", "throttle": 50, "enabled": False}
    for path in ("/control?runState=RUNNING", "/devices/d1?enabled=true"):
        assert call(h, "POST", path).response.status == 401
        assert call(h, "GET", path, OWNER).response.status == 405


def test_a_disallowed_origin_is_refused_on_every_route():
    h = Harness()
    for path in ("", "/join", "/worker.js", "/ws", "/control"):
        assert call(h, "GET", path, {"origin": "https://evil.example"}).response.status == 403


def test_the_ostrich_route_admits_a_persistent_id_with_a_code():
    h = Harness()
    code = body(call(h, "POST", "/tokens?multiUse=true&code=true&length=6", OWNER))["token"]
    url = "https://swarm.example/ostrich/lab/ws?persistentId=node-abc123&token=" + code
    result = handle(h.coordinator, HttpRequest("GET", url, UPGRADE), CONFIG, h.now)
    assert isinstance(result, Upgrade)
    assert result.admission.attachment.wire == "ostrich"
    assert result.admission.resume_key is None, "the Ostrich-Legs client has no resume key"
    for query, status in (("persistentId=node-1&token=", 401), ("persistentId=node-1", 401)):
        refused = handle(
            h.coordinator,
            HttpRequest("GET", "https://swarm.example/ostrich/lab/ws?" + query, UPGRADE),
            CONFIG,
            h.now,
        )
        assert refused.response.status == status
    page = handle(
        h.coordinator, HttpRequest("GET", "https://swarm.example/ostrich/lab"), CONFIG, h.now
    )
    assert page.response.status == 404
