"""The swarm coordinator Worker (src/swarm_worker.py) on real Pyodide 314: the Worker routes
``/swarm/<id>`` and ``/ostrich/<id>`` to the ``SwarmCoordinator`` Durable Object named ``<id>``,
which runs on the hibernation API. Covered here: invites and their rate limit (across
eviction), codes and their QR codes (segno on Pyodide), refusals before the upgrade, a device's
whole round trip, the join page, the owner's controls, an Ostrich-Legs client, eviction and
rebuild from storage plus socket attachments, storage writes past the 128-key limit, the 2 s
alarm that stops when the last socket leaves, and a resume that outlives the late close of the
old socket. Hostile input: test_swarm_hostile.py.

Like workerd, the fake queues what the object sends on a socket before its 101 reaches the
client, so a test reads ``WELCOME`` (and its resume key) as the socket's first frame.

Alarms are manual, so each tick is delivered by the test. Replies are read with
:func:`next_of`, which skips broadcasts and log lines in between.
"""

from __future__ import annotations

import json

import pytest

from driver import LaneConfig, WebSocket, WebSocketClosed
from flaresuite.swarm import kernels
from flaresuite.swarm.qr import qr_svg

pytestmark = pytest.mark.lane

ADMIN = "lane-swarm-admin"
OWNER = {"authorization": f"Bearer {ADMIN}"}
SWARM = LaneConfig(
    main="src/swarm_worker.py",
    durable_objects={"SWARM": "SwarmCoordinator"},
    vars={"SWARM_ADMIN_TOKEN": ADMIN, "SWARM_ALLOWED_ORIGINS": "https://dash.example"},
    alarms="manual",
)
REGISTER = {"name": "lane device", "cpuCores": 2, "memoryGB": 4, "gpuAvailable": False}


@pytest.fixture
def lane(lane_factory):
    lane = lane_factory(SWARM)
    lane.reset()
    return lane


def send(ws: WebSocket, kind: str, payload: dict) -> None:
    ws.send(json.dumps({"type": kind, "payload": payload}))


def next_of(ws: WebSocket, kind: str) -> dict:
    for _ in range(50):
        message = ws.receive_json()
        if message["type"] == kind:
            return message["payload"]
    raise AssertionError(f"no {kind} in 50 frames")


def complete(ws: WebSocket, chunk: dict, duration_ms: float = 40) -> None:
    """Reports ``chunk`` done with its right result (as a device computes it)."""
    result = kernels.expected_result(chunk["kind"], chunk["seed"], chunk["ops"])
    send(
        ws,
        "JOB_COMPLETE",
        {"chunkId": chunk["chunkId"], "durationMs": duration_ms, "result": result},
    )


def invite(lane, swarm: str = "lab", multi_use: bool = True) -> str:
    response = lane.fetch(
        "POST", f"/swarm/{swarm}/tokens?multiUse={str(multi_use).lower()}", headers=OWNER
    )
    assert response.status == 201, response.text
    return response.json()["token"]


def join(lane, device_id: str, token: str, swarm: str = "lab") -> WebSocket:
    ws = lane.websocket(f"/swarm/{swarm}/ws?token={token}&deviceId={device_id}")
    send(ws, "DEVICE_REGISTER", REGISTER)
    assert next_of(ws, "REGISTERED")["quota"] == 4
    return ws


def state(lane, swarm: str = "lab") -> dict:
    response = lane.fetch("GET", f"/swarm/{swarm}/state", headers=OWNER)
    assert response.status == 200
    return response.json()


def test_the_worker_serves_the_dashboard_and_refuses_other_paths(lane):
    page = lane.fetch("GET", "/swarm/lab")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert b"WebSocket" in page.body

    for path in ("/", "/swarm/", "/swarm/bad.id/ws", "/elsewhere"):
        response = lane.fetch("GET", path)
        assert response.status == 404 and "error" in response.json()


def test_five_invites_a_minute_even_across_eviction(lane):
    for _ in range(4):
        invite(lane)
    lane.durable_object("SWARM", "lab").evict()
    invite(lane)

    refused = lane.fetch("POST", "/swarm/lab/tokens", headers=OWNER)

    assert refused.status == 429 and "per minute" in refused.json()["error"]
    assert any(r.get("event") == "invite_rate_limited" for r in lane.json_logs())
    assert invite(lane, swarm="other"), "the limit is per swarm"
    stored = lane.durable_object("SWARM", "lab").state().storage
    assert len([k for k in stored if k.startswith("invite:")]) == 5


def test_invites_are_stored_hashed_and_owner_routes_need_the_bearer(lane):
    token = invite(lane)
    stored = lane.durable_object("SWARM", "lab").state().storage
    assert token not in json.dumps(stored)

    assert (
        lane.fetch("POST", "/swarm/lab/tokens", headers={"authorization": "Bearer nope"}).status
        == 401
    )
    assert lane.fetch("POST", "/swarm/lab/jobs?chunks=2").status == 401


@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        ("token=wrong&deviceId=d1", {}, 401),
        ("deviceId=d1", {}, 401),
        ("token=TOKEN&deviceId=no%20spaces", {}, 400),
        ("token=TOKEN&deviceId=d1", {"origin": "https://evil.example"}, 403),
    ],
)
def test_bad_joins_are_refused_before_the_upgrade(lane, query, headers, status):
    token = invite(lane, multi_use=False)
    response = lane.fetch(
        "GET",
        "/swarm/lab/ws?" + query.replace("TOKEN", token),
        headers={"upgrade": "websocket", **headers},
    )

    assert response.status == status and response.websocket is None
    assert lane.durable_object("SWARM", "lab").state().websockets == []
    # The single-use token was not spent by the refusal.
    join(lane, "d1", token)


def test_a_device_runs_a_job_through_the_durable_object(lane):
    ws = join(lane, "d1", invite(lane))
    assert (
        lane.fetch(
            "POST", "/swarm/lab/jobs?chunks=3&kind=MAT_MUL&opsPerChunk=10", headers=OWNER
        ).status
        == 201
    )

    send(ws, "JOB_REQUEST", {"slots": 3})
    chunks = next_of(ws, "JOB_ASSIGN")["chunks"]
    for chunk in chunks:
        complete(ws, chunk)

    snapshot = state(lane)
    assert snapshot["queue"] == {"queued": 0, "assigned": 0, "done": 3, "failed": 0}
    assert snapshot["devices"][0]["completed"] == 3
    assert [
        k for k in lane.durable_object("SWARM", "lab").state().storage if k.startswith("chunk:")
    ] == []


def test_an_event_that_writes_more_than_128_keys_is_stored_whole(lane):
    join(lane, "d1", invite(lane))
    assert lane.fetch("POST", "/swarm/lab/jobs?chunks=300", headers=OWNER).status == 201
    swarm = lane.durable_object("SWARM", "lab")
    assert len([k for k in swarm.state().storage if k.startswith("chunk:")]) == 300

    swarm.evict()

    assert state(lane)["queue"]["queued"] == 300


def test_sockets_carry_json_string_attachments(lane):
    join(lane, "d1", invite(lane))

    (socket,) = lane.durable_object("SWARM", "lab").state().websockets

    attachment = json.loads(socket["attachment"])
    assert attachment["deviceId"] == "d1" and attachment["role"] == "device"


def test_after_eviction_the_object_rebuilds_from_storage_and_its_sockets(lane):
    token = invite(lane)
    keeper = join(lane, "keeper", token)
    leaver = join(lane, "leaver", token)
    lane.fetch("POST", "/swarm/lab/jobs?chunks=4", headers=OWNER)
    send(keeper, "JOB_REQUEST", {"slots": 2})
    send(leaver, "JOB_REQUEST", {"slots": 2})
    kept = next_of(keeper, "JOB_ASSIGN")["chunks"]
    left = next_of(leaver, "JOB_ASSIGN")["chunks"]
    swarm = lane.durable_object("SWARM", "lab")

    swarm.evict()
    assert swarm.state().live is False
    leaver.disconnect()  # wakes a fresh instance with a close event

    complete(keeper, kept[0], 10)
    complete(keeper, kept[1], 10)
    send(keeper, "JOB_REQUEST", {"slots": 2})
    again = next_of(keeper, "JOB_ASSIGN")["chunks"]

    assert sorted(c["chunkId"] for c in again) == sorted(c["chunkId"] for c in left)
    snapshot = state(lane)
    by_id = {d["id"]: d for d in snapshot["devices"]}
    assert by_id["keeper"]["status"] == "ONLINE" and by_id["leaver"]["status"] == "OFFLINE"
    assert snapshot["queue"] == {"queued": 0, "assigned": 2, "done": 2, "failed": 0}


def test_the_alarm_broadcasts_every_2_s_while_sockets_are_open_and_stops_at_zero(lane):
    device = join(lane, "d1", invite(lane))
    swarm = lane.durable_object("SWARM", "lab")
    first = swarm.state().alarm
    assert first is not None

    assert swarm.alarm().ran
    assert next_of(device, "STATUS")["devicesOnline"] == 1
    rearmed = swarm.state().alarm
    assert rearmed is not None and rearmed >= first

    swarm.evict()
    assert swarm.alarm().ran, "an evicted object wakes for its alarm"
    assert next_of(device, "STATUS")["devicesOnline"] == 1

    device.close(1000, "done")
    assert swarm.state().alarm is None
    assert swarm.alarm().ran is False
    assert swarm.state().alarm is None


def test_a_socket_the_object_closes_takes_the_alarm_with_it_without_waiting_for_its_close(lane):
    ws = join(lane, "d1", invite(lane))
    swarm = lane.durable_object("SWARM", "lab")
    assert swarm.state().alarm is not None

    for _ in range(20):  # the twentieth invalid frame closes the socket (1008)
        ws.send("garbage")

    with pytest.raises(WebSocketClosed) as closed:
        for _ in range(50):
            ws.receive()
    assert closed.value.code == 1008
    assert swarm.state().alarm is None, "no close event came back, and none is needed"
    assert state(lane)["devices"][0]["status"] == "OFFLINE"


def test_a_dashboard_gets_snapshots_and_keeps_the_alarm_alive(lane):
    token = invite(lane)
    dashboard = lane.websocket(
        f"/swarm/lab/ws?role=observer&token={token}", headers={"origin": "https://dash.example"}
    )
    assert next_of(dashboard, "SNAPSHOT")["devicesTotal"] == 0  # the one sent on arrival
    join(lane, "d1", token).close()
    swarm = lane.durable_object("SWARM", "lab")

    assert swarm.alarm().ran
    snapshot = next_of(dashboard, "SNAPSHOT")
    assert snapshot["devicesTotal"] == 1 and snapshot["devices"][0]["status"] == "OFFLINE"
    assert swarm.state().alarm is not None


def test_invalid_frames_get_an_error_and_a_security_log_and_the_socket_survives(lane):
    ws = join(lane, "d1", invite(lane))
    lane.logs()

    ws.send("{not json")
    assert next_of(ws, "ERROR")["code"] == "invalid_json"
    ws.send(b"\xff\xfe")
    assert next_of(ws, "ERROR")["code"] == "invalid_json"
    send(ws, "DEVICE_REGISTER", {**REGISTER, "cpuCores": 500})
    assert next_of(ws, "ERROR")["code"] == "invalid_payload"
    ws.send("x" * (64 * 1024 + 1))
    assert next_of(ws, "ERROR")["code"] == "too_large"

    security = [r for r in lane.json_logs() if r.get("category") == "SECURITY"]
    assert [r["code"] for r in security] == [
        "invalid_json",
        "invalid_json",
        "invalid_payload",
        "too_large",
    ]
    send(ws, "JOB_REQUEST", {"slots": 1})
    assert state(lane)["devices"][0]["status"] == "ONLINE"


def test_a_token_cannot_take_over_an_online_device_but_resumes_an_offline_one(lane):
    token = invite(lane)
    first = join(lane, "d1", token)
    taken = lane.fetch(
        "GET", f"/swarm/lab/ws?token={token}&deviceId=d1", headers={"upgrade": "websocket"}
    )
    assert taken.status == 409

    first.close()
    second = lane.websocket(f"/swarm/lab/ws?token={token}&deviceId=d1")
    send(second, "JOB_REQUEST", {"slots": 1})  # registration survived the reconnect

    snapshot = state(lane)
    assert snapshot["devicesTotal"] == 1 and snapshot["devices"][0]["status"] == "ONLINE"
    assert snapshot["devices"][0]["registered"] is True


def test_welcome_comes_first_and_a_resume_outlives_the_late_close_of_the_old_socket(lane):
    token = invite(lane)
    old = lane.websocket(f"/swarm/lab/ws?token={token}&deviceId=d1")
    welcome = old.receive_json()  # sent while the object was still answering the upgrade
    assert welcome["type"] == "WELCOME" and welcome["payload"]["deviceId"] == "d1"
    send(old, "DEVICE_REGISTER", REGISTER)
    next_of(old, "REGISTERED")

    new = lane.websocket(f"/swarm/lab/ws?resumeKey={welcome['payload']['resumeKey']}&deviceId=d1")
    resumed = new.receive_json()
    assert resumed["type"] == "WELCOME" and resumed["payload"]["resumed"] is True
    old.close()  # the old socket's close arrives after the device resumed

    snapshot = state(lane)
    assert snapshot["devicesTotal"] == 1 and snapshot["devices"][0]["status"] == "ONLINE"
    send(new, "JOB_REQUEST", {"slots": 1})
    assert state(lane)["devices"][0]["status"] == "ONLINE"


def test_the_worker_serves_the_join_page_and_its_web_worker(lane):
    page = lane.fetch("GET", "/swarm/lab/join?invite=K7QM4XPA")
    assert page.status == 200 and b"navigator.hardwareConcurrency" in page.body
    assert "worker-src 'self'" in page.headers["content-security-policy"]
    script = lane.fetch("GET", "/swarm/lab/worker.js")
    assert script.status == 200 and script.headers["content-type"].startswith("text/javascript")


def test_a_code_and_its_qr_code_are_made_on_pyodide_as_on_cpython(lane):
    response = lane.fetch("POST", "/swarm/lab/tokens?multiUse=true&code=true", headers=OWNER)
    assert response.status == 201
    issued = response.json()
    assert len(issued["token"]) == 8 and issued["joinUrl"].endswith(issued["token"])
    assert issued["qrSvg"] == qr_svg(issued["joinUrl"]), "segno draws the same symbol"
    typed = issued["token"].lower()[:4] + "-" + issued["token"][4:]
    ws = lane.websocket(f"/swarm/lab/ws?token={typed}&deviceId=web-1")
    assert ws.receive_json()["type"] == "WELCOME"


def test_the_owner_pauses_and_stops_the_swarm_through_the_worker(lane):
    ws = join(lane, "d1", invite(lane))
    lane.fetch("POST", "/swarm/lab/jobs?chunks=4", headers=OWNER)
    send(ws, "JOB_REQUEST", {"slots": 2})
    held = next_of(ws, "JOB_ASSIGN")["chunks"]
    paused = lane.fetch("POST", "/swarm/lab/control?runState=PAUSED&throttle=50", headers=OWNER)
    assert paused.status == 200 and paused.json()["runState"] == "PAUSED"
    assert next_of(ws, "CONTROL") == {"runState": "PAUSED", "throttle": 50, "enabled": True}
    complete(ws, held[0])
    send(ws, "JOB_REQUEST", {"slots": 2})
    assert state(lane)["queue"] == {"queued": 2, "assigned": 1, "done": 1, "failed": 0}
    lane.fetch("POST", "/swarm/lab/control?runState=STOPPED", headers=OWNER)
    assert next_of(ws, "JOB_CANCEL")["chunkIds"] == [held[1]["chunkId"]]
    lane.durable_object("SWARM", "lab").evict()
    assert state(lane)["runState"] == "STOPPED", "settings are stored"
    assert lane.fetch("POST", "/swarm/lab/devices/d1?enabled=false", headers=OWNER).status == 200
    assert state(lane)["devices"][0]["enabled"] is False


def test_the_ostrich_legs_client_joins_through_the_worker_with_a_code(lane):
    code = lane.fetch("POST", "/swarm/lab/tokens?multiUse=true&code=true&length=6", headers=OWNER)
    token = code.json()["token"]
    lane.fetch("POST", "/swarm/lab/jobs?chunks=3&opsPerChunk=1000", headers=OWNER)
    ws = lane.websocket(f"/ostrich/lab/ws?persistentId=node-k3j9x2m1p&token={token}")

    def emit(event, data):
        ws.send(json.dumps({"event": event, "data": data}))

    def next_event(event):
        for _ in range(50):
            message = ws.receive_json()
            if message["event"] == event:
                return message["data"]
        raise AssertionError(f"no {event}")

    emit("connect", {})
    assert next_event("connect") == {"status": "connected"}
    capabilities = {"cpuCores": 4, "memoryGB": 8, "gpuAvailable": False}
    emit("device:register", {"name": "Desktop Node", "capabilities": capabilities})
    emit("job:request_batch", {})
    assert isinstance(next_event("swarm:snapshot")["stats"]["globalThrottle"], int)
    jobs = next_event("job:batch")
    for job in jobs:
        emit(
            "job:complete",
            {"chunkId": job["id"], "result": 1.25, "workerId": "node-k3j9x2m1p", "durationMs": 2},
        )
        emit("job:request_batch", {})
    snapshot = state(lane)
    assert snapshot["queue"]["done"] == 3 and snapshot["devices"][0]["wire"] == "ostrich"
    attachment = json.loads(lane.durable_object("SWARM", "lab").state().websockets[0]["attachment"])
    assert attachment["wire"] == "ostrich"
