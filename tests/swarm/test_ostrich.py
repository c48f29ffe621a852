"""The Ostrich-Legs wire format in front of the same coordinator: its frames, what its client
dereferences, its liveness without heartbeats, and the owner's say over its commands."""

from __future__ import annotations

import json

import pytest

from flaresuite.swarm.coordinator import CLOSE_REPLACED, CLOSE_SILENT
from flaresuite.swarm.liveness import (
    HEARTBEAT_SECONDS,
    IDLE_OSTRICH_AFTER_SECONDS,
    OFFLINE_AFTER_SECONDS,
)
from flaresuite.swarm.messages import (
    Activity,
    BenchmarkResult,
    DeviceRegister,
    Heartbeat,
    JobComplete,
    JobRequest,
    ProtocolError,
    RequestInvite,
    SetDeviceEnabled,
    SetInviteeCommands,
    SetRunState,
    SetThrottle,
)
from flaresuite.swarm.model import OFFLINE, ONLINE
from flaresuite.swarm.ostrich import encode, parse_frame
from flaresuite.swarm.refusals import Refused

from .harness import Harness

CHUNK = "0b6f3a1e-9a55-4c1d-8d0e-5a2d3c4b5e6f"


def frame(event, data=None):
    return json.dumps({"event": event} if data is None else {"event": event, "data": data})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (frame("connect", {}), Activity()),
        (
            frame(
                "device:register",
                {
                    "name": "Mobile Node",
                    "capabilities": {"cpuCores": 8, "memoryGB": 0.25, "gpuAvailable": True},
                },
            ),
            DeviceRegister("Mobile Node", 8, 0.25, True),
        ),
        (frame("job:request_batch", {}), JobRequest(64)),
        (
            frame(
                "job:complete",
                {"chunkId": CHUNK, "result": -3.25, "workerId": "node-a", "durationMs": 4.5},
            ),
            JobComplete(CHUNK, 4.5),
        ),
        (
            frame("job:complete", {"chunkId": CHUNK, "error": "boom", "workerId": "node-a"}),
            JobComplete(CHUNK, None, "boom"),
        ),
        (frame("heartbeat", {"lastInteraction": 1_771_000_000_000}), Heartbeat()),
        (frame("benchmark:result", {"score": 4200}), BenchmarkResult(4200.0)),
        (frame("cmd:set_run_state", "PAUSED"), SetRunState("PAUSED")),
        (frame("cmd:set_throttle", 35), SetThrottle(35)),
        (
            frame("cmd:toggle_device", {"id": "node-b", "enabled": False}),
            SetDeviceEnabled("node-b", False),
        ),
        (frame("auth:generate_token", {}), RequestInvite()),
    ],
)
def test_the_clients_frames_parse_into_the_coordinators_messages(raw, expected):
    assert parse_frame(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("[" * 8750, "invalid_json"),
        ('{"event": "connect", "data": {}, "event": "x"}', "invalid_json"),
        (json.dumps({"type": "HEARTBEAT", "payload": {}}), "invalid_message"),
        (frame("swarm:snapshot", {}), "unknown_type"),
        (frame("cmd:set_run_state", "running"), "invalid_payload"),
        (frame("cmd:set_throttle", 9), "invalid_payload"),
        (frame("cmd:set_throttle", 35.5), "invalid_payload"),
        (frame("cmd:set_throttle", True), "invalid_payload"),
        (frame("cmd:toggle_device", {"id": "x", "enabled": "no"}), "invalid_payload"),
        (frame("device:register", {"name": "n", "capabilities": []}), "invalid_payload"),
        (
            frame("device:register", {"name": "n", "capabilities": {"cpuCores": 4}}),
            "invalid_payload",
        ),
        (
            frame("job:complete", {"chunkId": "job-1700-abcde", "result": 1, "workerId": "w"}),
            "invalid_payload",
        ),
        (frame("job:complete", {"chunkId": CHUNK, "workerId": "w"}), "invalid_payload"),
        (
            frame("job:complete", {"chunkId": CHUNK, "result": "1", "workerId": "w"}),
            "invalid_payload",
        ),
        (frame("job:request_batch", {"count": 5}), "invalid_payload"),
        (frame("benchmark:result", {"score": 0}), "invalid_payload"),
    ],
)
def test_anything_else_is_refused(raw, code):
    with pytest.raises(ProtocolError) as error:
        parse_frame(raw)
    assert error.value.code == code


def test_notes_it_has_no_use_for_send_nothing():
    for kind in ("REGISTERED", "CONTROL", "JOB_CANCEL", "STATUS"):
        assert encode(kind, {}) == ()
    assert encode("INVITE", {"code": "K7QM4X"}) == ('{"event":"auth:token","data":"K7QM4X"}',)


def test_the_server_sends_connect_and_a_snapshot_before_the_first_batch():
    h = Harness()
    h.submit(3)
    s = h.join_ostrich("node-abc")
    h.send_ostrich(s, "job:request_batch", {})
    events = [m["event"] for m in h.inbox[s]]
    assert events[0] == "connect" and h.events(s, "connect") == [{"status": "connected"}]
    assert events.index("swarm:snapshot") < events.index("job:batch")
    (snapshot,) = h.events(s, "swarm:snapshot")
    assert isinstance(snapshot["stats"]["globalThrottle"], int)
    jobs = h.ostrich_jobs(s)
    assert len(jobs) == 3 and {j["type"] for j in jobs} == {"MATH_STRESS"}
    assert all(j["data"]["iterations"] == 1000 and j["complexity"] == 1 for j in jobs)


def test_every_field_its_dashboard_dereferences_is_there():
    h = Harness()
    s = h.join_ostrich("node-abc")
    h.join("native")
    h.submit(2)
    h.advance(2)
    h.fire_alarm()
    snapshot = h.events(s, "swarm:snapshot")[-1]
    assert snapshot["runState"] == "RUNNING"
    device = snapshot["devices"]["node-abc"]
    assert device == {
        "id": "node-abc",
        "name": "Desktop Node",
        "type": "DESKTOP",
        "status": "ONLINE",
        "capabilities": {"cpuCores": 4, "memoryGB": 8.0, "gpuAvailable": False},
        "totalJobsCompleted": 0,
        "opsScore": 0,
    }
    assert set(snapshot["devices"]) == {"node-abc", "native"}
    for value in (*snapshot["stats"].values(), *snapshot["resources"].values()):
        assert isinstance(value, (int, float)) and not isinstance(value, bool)
    assert snapshot["stats"]["pendingJobs"] == 2 and snapshot["resources"]["totalCores"] == 8
    assert [line["level"] for line in h.events(s, "sys:log")][:1] == ["SYS"]


def test_a_standing_request_is_remembered_though_the_client_never_asks_again():
    h = Harness()
    s = h.join_ostrich("node-abc")
    h.send_ostrich(s, "job:request_batch", {})  # nothing queued yet
    h.submit(2)
    assert len(h.ostrich_jobs(s)) == 2


def test_an_idle_ostrich_device_may_be_quiet_for_4_minutes_then_its_socket_is_closed():
    h = Harness()
    code = h.invite()
    s = h.join_ostrich("node-idle", code)
    h.submit(1)
    h.send_ostrich(s, "job:request_batch", {})
    (job,) = h.ostrich_jobs(s)
    done = {"chunkId": job["id"], "result": 1.5, "workerId": "node-idle", "durationMs": 3}
    h.send_ostrich(s, "job:complete", done)
    h.send_ostrich(s, "job:request_batch", {})  # nothing queued: it waits, silent
    h.advance(IDLE_OSTRICH_AFTER_SECONDS - 1)
    h.fire_alarm()
    assert h.coordinator.devices["node-idle"].status == ONLINE, "quiet while idle is normal"
    h.advance(2)
    h.fire_alarm()
    # Its connection may have died unseen (no close, and a Durable Object cannot ping).
    assert h.server_closed[s] == CLOSE_SILENT
    assert h.coordinator.devices["node-idle"].status == OFFLINE
    assert h.coordinator.sockets == {} and h.alarm_at is None, "nothing keeps the object awake"
    h.submit(1)
    assert h.coordinator.counts()["queued"] == 1, "its standing request went with it"

    # A client that was alive reconnects on its own, with its id and code: the same device.
    again = h.join_ostrich("node-idle", code)
    device = h.coordinator.devices["node-idle"]
    assert (device.status, device.socket_id, device.completed) == (ONLINE, again, 1)


def test_an_ostrich_device_silent_for_60_s_while_holding_work_is_taken_for_gone():
    h = Harness()
    s = h.join_ostrich("node-busy")
    h.submit(1)
    h.send_ostrich(s, "job:request_batch", {})
    h.advance(OFFLINE_AFTER_SECONDS + 1)
    h.fire_alarm()
    assert h.server_closed[s] == CLOSE_SILENT, "silent while holding work: it hung or vanished"
    assert h.coordinator.counts()["queued"] == 1


def test_any_frame_counts_as_activity_even_its_own_connect():
    h = Harness()
    s = h.join_ostrich("node-abc")
    h.advance(30)
    h.send_ostrich(s, "connect", {})
    assert h.coordinator.devices["node-abc"].last_seen == h.now


def test_the_same_browser_coming_back_replaces_its_quiet_session():
    h = Harness()
    code = h.invite()
    old = h.join_ostrich("node-abc", code)
    h.advance(1)
    with pytest.raises(Refused) as refused:  # a busy session (another tab) keeps its id
        h.admit("node-abc", token=code, wire="ostrich")
    assert refused.value.status == 409
    h.advance(HEARTBEAT_SECONDS)
    new = h.connect(h.admit("node-abc", token=code, wire="ostrich"))
    assert h.server_closed[old] == CLOSE_REPLACED
    h.close(old)  # its late close changes nothing
    assert h.coordinator.devices["node-abc"].socket_id == new
    assert h.coordinator.devices["node-abc"].status == ONLINE


def test_an_ostrich_join_cannot_take_over_a_native_device():
    h = Harness()
    h.join("phone")
    h.advance(HEARTBEAT_SECONDS * 2)
    with pytest.raises(Refused) as refused:
        h.admit("phone", token=h.invite(), wire="ostrich")
    assert refused.value.status == 409


def test_members_commands_need_the_owners_leave():
    h = Harness()
    s = h.join_ostrich("node-abc")
    other = h.join_ostrich("node-xyz")
    h.send_ostrich(s, "cmd:set_run_state", "PAUSED")
    h.send_ostrich(s, "cmd:set_throttle", 35)
    h.send_ostrich(s, "cmd:toggle_device", {"id": "node-xyz", "enabled": False})
    assert h.coordinator.settings()["runState"] == "RUNNING"
    assert h.coordinator.throttle == 100 and h.coordinator.devices["node-xyz"].enabled
    errors = [line["message"] for line in h.events(s, "sys:log") if line["level"] == "ERR"]
    assert len(errors) == 3 and all("forbidden" in e for e in errors)
    assert [r["event"] for r in h.security_logs()].count("command_refused") == 3
    assert h.coordinator.devices["node-abc"].status == ONLINE, "refusals are not strikes"

    h.apply(h.coordinator.command(SetInviteeCommands(frozenset({"run", "devices"})), now=h.now))
    h.send_ostrich(s, "cmd:set_run_state", "PAUSED")
    h.send_ostrich(s, "cmd:toggle_device", {"id": "node-xyz", "enabled": False})
    h.send_ostrich(s, "cmd:set_throttle", 35)
    assert h.coordinator.run_state == "PAUSED" and not h.coordinator.devices["node-xyz"].enabled
    assert h.coordinator.throttle == 100
    assert h.events(other, "swarm:snapshot")[-1]["devices"]["node-xyz"]["status"] == "DISABLED"


def test_a_member_asks_for_a_code_only_when_allowed_and_gets_one_of_six_characters():
    h = Harness()
    s = h.join_ostrich("node-abc")
    h.send_ostrich(s, "auth:generate_token", {})
    assert h.events(s, "auth:token") == [""]
    h.apply(h.coordinator.command(SetInviteeCommands(frozenset({"invite"})), now=h.now))
    h.send_ostrich(s, "auth:generate_token", {})
    code = h.events(s, "auth:token")[-1]
    assert len(code) == 6
    h.join_ostrich("node-new", code)
    assert h.coordinator.devices["node-new"].status == ONLINE, "a code leads into this swarm"
    for _ in range(5):
        h.send_ostrich(s, "auth:generate_token", {})
    assert h.events(s, "auth:token")[-1] == "", "rate limited like every invite"


def test_a_chunk_recalled_from_an_ostrich_device_is_answered_quietly():
    h = Harness()
    s = h.join_ostrich("node-abc")
    h.submit(1)
    h.send_ostrich(s, "job:request_batch", {})
    (job,) = h.ostrich_jobs(s)
    h.apply(h.coordinator.command(SetRunState("STOPPED"), now=h.now))
    h.send_ostrich(s, "job:complete", {"chunkId": job["id"], "result": 1.0, "workerId": "node-abc"})
    assert h.coordinator.done_total == 0 and h.coordinator.counts()["queued"] == 1
    assert "chunk_not_held" in h.events(s, "sys:log")[-1]["message"]


def test_an_ostrich_device_goes_offline_when_its_socket_closes():
    h = Harness()
    s = h.join_ostrich("node-abc")
    h.close(s)
    assert h.coordinator.devices["node-abc"].status == OFFLINE
