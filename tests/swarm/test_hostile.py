"""The swarm Worker's HTTP surface and its sockets against hostile input, on the core.

A swarm with a device, a job and live invites is woken from Durable Object storage for every
example, exactly as the Worker's object is (:class:`flaresuite.swarm.host.SwarmHost`). Whatever
a stranger, a member or the owner sends that is not a valid request gets a clear 4xx JSON
``{"error": ...}`` and leaves storage as it was. The depth and encoding cases also run on
Pyodide (``tests/lane/test_swarm_hostile.py``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flaresuite.http import HttpRequest, HttpResponse
from flaresuite.swarm.config import SwarmConfig
from flaresuite.swarm.coordinator import Admission
from flaresuite.swarm.host import SwarmHost
from flaresuite.swarm.storage import MemorySwarmStorage
from tests.support.hostile import assert_clear_refusal, hostile_bodies, hostile_header_values

from .harness import Harness

ADMIN = "hostile-admin-token"
CONFIG = SwarmConfig(ADMIN, frozenset({"https://dash.example"}))
BASE = "https://swarm.example/swarm/lab"
OWNER = {"authorization": f"Bearer {ADMIN}"}
OWNER_ROUTES = [
    ("POST", "/tokens"),
    ("POST", "/jobs"),
    ("POST", "/control"),
    ("POST", "/devices/d1"),
    ("GET", "/state"),
]
HOSTILE_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def swarm_in_storage() -> tuple[dict[str, str], list[str], float | None, float]:
    """A swarm as a Durable Object keeps it: a registered device holding work on its open
    socket, a queued job, live invites."""
    h = Harness()
    s = h.join("d1")
    h.submit(5)
    h.send(s, "JOB_REQUEST", {"slots": 2})
    h.invite(multi_use=False)
    return dict(h.stored), list(h.open.values()), h.alarm_at, h.now


STORED, ATTACHMENTS, ALARM, NOW = swarm_in_storage()


class Recorder:
    def __init__(self) -> None:
        self.sent: dict[str, list[str]] = {}
        self.closed: dict[str, int] = {}

    def send(self, socket_id: str, text: str) -> None:
        self.sent.setdefault(socket_id, []).append(text)

    def close(self, socket_id: str, code: int, reason: str) -> None:
        self.closed[socket_id] = code

    def attachments(self) -> list[str]:
        return ATTACHMENTS


def woken() -> tuple[SwarmHost, MemorySwarmStorage, Recorder]:
    storage = MemorySwarmStorage()
    storage.values = dict(STORED)
    storage.alarm_at = ALARM
    sockets = Recorder()
    return SwarmHost(storage, sockets, CONFIG, log=lambda _: None), storage, sockets


def answer(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[Any, dict]:
    host, storage, _ = woken()
    request = HttpRequest(method, BASE + path, headers, body)
    result = asyncio.run(host.request(request, NOW))
    return result, storage.values


@HOSTILE_SETTINGS
@given(route=st.sampled_from(OWNER_ROUTES), body=hostile_bodies.filter(bool))
def test_the_owner_sending_a_body_is_refused_and_nothing_changes(route, body):
    method, path = route
    response, stored = answer(method, path + "?runState=PAUSED&enabled=false", OWNER, body)
    assert_clear_refusal(response)
    assert response.status == 400 and stored == STORED


@HOSTILE_SETTINGS
@given(
    route=st.sampled_from(OWNER_ROUTES),
    authorization=hostile_header_values,
    body=hostile_bodies,
)
def test_a_stranger_gets_401_whatever_they_send(route, authorization, body):
    method, path = route
    response, stored = answer(method, path, {"authorization": authorization}, body)
    assert_clear_refusal(response)
    assert response.status == 401 and stored == STORED


PARAMETERS = ["kind", "chunks", "opsPerChunk", "multiUse", "code", "length", "runState"]
PARAMETERS += ["throttle", "inviteeCommands", "enabled", "role", "x"]


@HOSTILE_SETTINGS
@given(
    route=st.sampled_from(OWNER_ROUTES[:4]),
    query=st.dictionaries(st.sampled_from(PARAMETERS), hostile_header_values, max_size=3),
)
def test_owner_parameters_are_applied_whole_or_refused_changing_nothing(route, query):
    method, path = route
    encoded = "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
    response, stored = answer(method, f"{path}?{encoded}", OWNER)
    assert isinstance(response, HttpResponse)
    if response.status >= 400:
        assert_clear_refusal(response)
        assert stored == STORED


@HOSTILE_SETTINGS
@given(
    token=hostile_header_values,
    device=hostile_header_values,
    resume=st.none() | hostile_header_values,
    origin=st.none() | hostile_header_values,
)
def test_an_upgrade_with_hostile_credentials_is_refused_before_any_socket(
    token, device, resume, origin
):
    query = f"/ws?token={quote(token, safe='')}&deviceId={quote(device, safe='')}"
    if resume is not None:
        query += f"&resumeKey={quote(resume, safe='')}"
    headers = {"upgrade": "websocket"}
    if origin is not None:
        headers["origin"] = origin
    response, stored = answer("GET", query, headers)
    assert not isinstance(response, Admission), "no invite was valid"
    assert_clear_refusal(response)
    assert stored == STORED


@HOSTILE_SETTINGS
@given(
    path=st.text(alphabet="/abcws.%-_?=&", max_size=30),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "TRACE"]),
)
def test_unknown_paths_and_methods_are_4xx(path, method):
    host, storage, _ = woken()
    response = asyncio.run(host.request(HttpRequest(method, BASE + "/" + path, {}), NOW))
    if isinstance(response, HttpResponse) and response.status >= 400:
        assert_clear_refusal(response)
    assert storage.values == STORED


@HOSTILE_SETTINGS
@given(
    frames=st.lists(hostile_bodies, min_size=1, max_size=5),
    wire=st.sampled_from(["swarm", "ostrich"]),
)
def test_hostile_frames_get_an_error_and_change_nothing(frames, wire):
    host, storage, sockets = woken()
    prefix = "/swarm/lab" if wire == "swarm" else "/ostrich/lab"
    url = f"https://swarm.example{prefix}/ws?token=&deviceId=d9&persistentId=d9"
    # A member's socket: admitted with a fresh multi-use invite, written before the frames.
    core = asyncio.run(host.coordinator(NOW, "lab"))
    issued, effects = core.issue_invite(NOW, multi_use=True)
    asyncio.run(host.apply(effects))
    request = HttpRequest(
        "GET", url.replace("token=", f"token={issued.token}"), {"upgrade": "websocket"}
    )
    admission = asyncio.run(host.request(request, NOW))
    assert isinstance(admission, Admission)
    asyncio.run(host.connected(admission, NOW))
    before = dict(storage.values)
    socket_id = admission.attachment.socket_id
    for frame in frames:
        sent = len(sockets.sent.get(socket_id, []))
        asyncio.run(host.message(socket_id, frame, NOW))
        replies = [json.loads(text) for text in sockets.sent.get(socket_id, [])[sent:]]
        assert replies, "every refused frame is answered"
        assert any(
            r.get("type") == "ERROR"
            or (r.get("event") == "sys:log" and r["data"]["level"] == "ERR")
            for r in replies
        )
    assert storage.values == before
