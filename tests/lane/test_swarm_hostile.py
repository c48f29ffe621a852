"""The swarm Worker on real Pyodide 314 against the input that used to kill it or slip through:
a deeply nested frame (``"[" * 8750`` took the whole isolate down with ``RangeError: Maximum
call stack size exceeded``), the shared hostile bodies, a flood of frames, and a deployment
without its admin token (or with one of only whitespace)."""

from __future__ import annotations

import contextlib
import json

import pytest
from tests.support.hostile import DEEP_OPEN, LANE_BODIES

from driver import LaneConfig, LaneError, WebSocketClosed
from test_swarm_worker import OWNER, SWARM, invite, join, next_of, send, state

pytestmark = pytest.mark.lane


@pytest.fixture
def lane(lane_factory):
    lane = lane_factory(SWARM)
    lane.reset()
    return lane


def test_a_deeply_nested_frame_is_refused_and_the_interpreter_lives_on(lane):
    token = invite(lane)
    device = join(lane, "d1", token)
    dashboard = lane.websocket(f"/swarm/lab/ws?role=observer&token={token}")
    next_of(dashboard, "SNAPSHOT")
    for ws in (device, dashboard):  # any admitted socket, an observer included
        ws.send(DEEP_OPEN.decode())
        error = next_of(ws, "ERROR")
        assert error["code"] == "invalid_json" and "nested" in error["message"]
    send(device, "HEARTBEAT", {})
    assert state(lane)["devices"][0]["status"] == "ONLINE"
    assert lane.fetch("GET", "/swarm/lab").status == 200


@pytest.mark.parametrize("name", sorted(LANE_BODIES))
def test_hostile_bodies_to_owner_routes_are_400_and_change_nothing(lane, name):
    invite(lane)
    swarm = lane.durable_object("SWARM", "lab")
    before = swarm.state().storage
    for path in (
        "/swarm/lab/jobs?chunks=5",
        "/swarm/lab/tokens",
        "/swarm/lab/control?runState=STOPPED",
    ):
        response = lane.fetch("POST", path, headers=OWNER, body=LANE_BODIES[name])
        assert response.status == 400 and response.json()["error"]
    assert swarm.state().storage == before


@pytest.mark.parametrize("name", sorted(LANE_BODIES))
def test_hostile_frames_of_both_wire_formats_get_an_error(lane, name):
    code = lane.fetch("POST", "/swarm/lab/tokens?multiUse=true&code=true&length=6", headers=OWNER)
    token = code.json()["token"]
    device = join(lane, "d1", token)
    ostrich = lane.websocket(f"/ostrich/lab/ws?persistentId=node-abc&token={token}")
    assert json.loads(ostrich.receive())["event"] == "connect"
    swarm = lane.durable_object("SWARM", "lab")
    before = swarm.state().storage
    device.send(LANE_BODIES[name])
    assert next_of(device, "ERROR")["code"] == "invalid_json"
    ostrich.send(LANE_BODIES[name])
    for _ in range(20):
        message = json.loads(ostrich.receive())
        if message["event"] == "sys:log" and message["data"]["level"] == "ERR":
            assert "invalid_json" in message["data"]["message"]
            break
    else:
        raise AssertionError("no sys:log ERR reply")
    assert swarm.state().storage == before


def test_a_flood_of_frames_is_dropped_then_closed_with_1008(lane):
    device = join(lane, "d1", invite(lane))
    frame = json.dumps(
        {"type": "BENCHMARK_RESULT", "payload": {"opsPerSecond": 1, "durationMs": 1}}
    )
    sent = 0
    with contextlib.suppress(LaneError):  # "the WebSocket is not open": it was closed
        for _ in range(3000):
            device.send(frame)
            sent += 1
    with pytest.raises(WebSocketClosed) as closed:
        for _ in range(200):
            device.receive()
    assert closed.value.code == 1008 and sent < 3000
    events = [r.get("event") for r in lane.json_logs() if r.get("category") == "SECURITY"]
    assert events.count("rate_limited") == 1 and "flooding" in events
    assert state(lane)["devices"][0]["status"] == "OFFLINE"


@pytest.mark.parametrize("token", [None, "   "])
def test_without_a_usable_admin_token_every_route_is_503_naming_it(lane_factory, token):
    variables = {} if token is None else {"SWARM_ADMIN_TOKEN": token}
    lane = lane_factory(
        LaneConfig(
            main="src/swarm_worker.py",
            durable_objects={"SWARM": "SwarmCoordinator"},
            vars={**variables, "SWARM_ALLOWED_ORIGINS": "not an origin"},
            alarms="manual",
        )
    )
    lane.reset()
    for method, path in (
        ("GET", "/swarm/lab"),
        ("POST", "/swarm/lab/tokens"),
        ("GET", "/swarm/lab/ws?token=x&deviceId=d1"),
        ("GET", "/elsewhere"),
    ):
        response = lane.fetch(method, path, headers={"authorization": "Bearer    "})
        assert response.status == 503
        body = response.json()
        assert body["variables"] == ["SWARM_ADMIN_TOKEN", "SWARM_ALLOWED_ORIGINS"]
        assert "not an origin" not in response.text
    assert lane.durable_object("SWARM", "lab").state().storage == {}
