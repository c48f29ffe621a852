"""The coordinator's behaviour, one event sequence at a time (docs/swarm.md)."""

from __future__ import annotations

import json

import pytest

from flaresuite.swarm.coordinator import (
    CLOSE_POLICY,
    CLOSE_REPLACED,
    CLOSE_SILENT,
    MAX_ATTEMPTS,
    MAX_STRIKES,
)
from flaresuite.swarm.effects import Log
from flaresuite.swarm.model import OFFLINE, ONLINE
from flaresuite.swarm.refusals import MAX_CHUNKS_PER_JOB, MAX_QUEUE, Refused

from .harness import Harness


class TestJoining:
    def test_a_device_joins_with_an_invite_and_gets_a_resume_key(self):
        h = Harness()
        s = h.join("d1")
        welcome = h.messages(s, "WELCOME")[0]
        assert welcome["deviceId"] == "d1" and welcome["resumed"] is False
        assert len(welcome["resumeKey"]) >= 32
        assert h.coordinator.devices["d1"].status == ONLINE
        assert welcome["resumeKey"] not in str(h.stored), "only the digest is stored"

    def test_without_a_valid_token_the_upgrade_is_refused_and_logged(self):
        h = Harness()
        for token in (None, "", "nope", "x" * 500):
            with pytest.raises(Refused) as refused:
                h.admit("d1", token=token)
            assert refused.value.status == 401
            logs = [e.record for e in refused.value.effects if isinstance(e, Log)]
            assert [r["event"] for r in logs] == ["invite_refused"]
        assert "d1" not in h.coordinator.devices

    def test_a_single_use_token_admits_once(self):
        h = Harness()
        token = h.invite(multi_use=False)
        h.join("d1", token)
        with pytest.raises(Refused):
            h.admit("d2", token=token)

    def test_a_multi_use_token_admits_many(self):
        h = Harness()
        token = h.invite(multi_use=True)
        for i in range(10):
            h.join(f"d{i}", token)
        assert len(h.coordinator.devices) == 10

    def test_an_expired_token_is_refused(self):
        h = Harness()
        token = h.invite()
        h.advance(24 * 3600)
        with pytest.raises(Refused):
            h.admit("d1", token=token)

    @pytest.mark.parametrize("device_id", [None, "", "a" * 65, "has space", "slash/x", "ü"])
    def test_bad_device_ids_are_refused(self, device_id):
        h = Harness()
        token = h.invite()
        with pytest.raises(Refused) as refused:
            h.admit(device_id, token=token)
        assert refused.value.status == 400

    def test_a_token_cannot_take_over_an_online_device(self):
        h = Harness()
        token = h.invite(multi_use=True)
        h.join("d1", token)
        with pytest.raises(Refused) as refused:
            h.admit("d1", token=token)
        assert refused.value.status == 409

    def test_a_wrong_resume_key_is_refused(self):
        h = Harness()
        h.join("d1")
        with pytest.raises(Refused) as refused:
            h.admit("d1", resume_key="guess")
        assert refused.value.status == 401


class TestReconnecting:
    def test_a_reconnect_resumes_the_device_and_closes_the_old_socket(self):
        h = Harness()
        old = h.join("d1")
        h.send(old, "BENCHMARK_RESULT", {"opsPerSecond": 50_000, "durationMs": 100})
        new = h.connect(h.admit("d1", resume_key=h.resume_key(old)))
        assert h.server_closed[old] == CLOSE_REPLACED
        assert h.messages(new, "WELCOME")[0]["resumed"] is True
        device = h.coordinator.devices["d1"]
        assert device.status == ONLINE and device.registered and device.ops_per_second == 50_000

    def test_a_late_close_of_the_old_socket_does_not_remove_the_device(self):
        h = Harness()
        old = h.join("d1")
        new = h.connect(h.admit("d1", resume_key=h.resume_key(old)))
        h.submit(4)
        h.send(new, "JOB_REQUEST", {"slots": 4})
        h.close(old)
        device = h.coordinator.devices["d1"]
        assert device.status == ONLINE and device.socket_id == new
        assert len(device.active) == 4

    def test_messages_from_a_replaced_socket_change_nothing(self):
        h = Harness()
        old = h.join("d1")
        h.submit(2)
        h.send(old, "JOB_REQUEST", {"slots": 2})
        chunk = h.assigned(old)[0]
        h.connect(h.admit("d1", resume_key=h.resume_key(old)))
        h.open[old] = "still open at the runtime"
        h.complete(old, chunk)
        assert h.messages(old, "ERROR")[-1]["code"] == "stale_session"
        assert h.coordinator.done_total == 0

    def test_the_chunks_of_a_replaced_session_go_back_to_the_queue(self):
        h = Harness()
        old = h.join("d1")
        h.submit(3)
        h.send(old, "JOB_REQUEST", {"slots": 3})
        assert h.coordinator.counts()["assigned"] == 3
        h.connect(h.admit("d1", resume_key=h.resume_key(old)))
        assert h.coordinator.counts() == {"queued": 3, "assigned": 0, "done": 0, "failed": 0}

    def test_an_offline_device_may_rejoin_with_a_new_invite(self):
        h = Harness()
        s = h.join("d1")
        h.close(s)
        again = h.join("d1", register=False)
        assert h.messages(again, "WELCOME")[0]["resumed"] is True
        assert h.coordinator.devices["d1"].registered


class TestScheduling:
    def test_requests_are_served_up_to_the_quota(self):
        h = Harness()
        s = h.join("d1", cores=1)  # quota 2
        h.submit(10)
        h.send(s, "JOB_REQUEST", {"slots": 8})
        assert len(h.assigned(s)) == 2

    def test_an_unregistered_device_gets_no_work(self):
        h = Harness()
        s = h.join("d1", register=False)
        h.submit(1)
        h.send(s, "JOB_REQUEST", {"slots": 1})
        assert h.messages(s, "ERROR")[-1]["code"] == "not_registered"
        assert h.assigned(s) == []

    def test_a_standing_request_is_served_when_work_arrives(self):
        h = Harness()
        s = h.join("d1")
        h.send(s, "JOB_REQUEST", {"slots": 2})
        assert h.assigned(s) == []
        h.submit(5)
        assert len(h.assigned(s)) == 2

    def test_scarce_work_goes_to_the_heavier_device(self):
        h = Harness()
        small = h.join("small", cores=1)
        big = h.join("big", cores=16)
        h.send(small, "JOB_REQUEST", {"slots": 2})
        h.send(big, "JOB_REQUEST", {"slots": 2})
        h.submit(1)
        assert len(h.assigned(big)) == 1 and h.assigned(small) == []

    def test_weights_follow_measured_speed(self):
        h = Harness()
        s = h.join("d1", cores=4)
        before = h.coordinator.devices["d1"].weight
        h.submit(3)
        h.send(s, "JOB_REQUEST", {"slots": 3})
        for chunk in h.assigned(s):
            h.complete(s, chunk, ms=5000)
        assert h.coordinator.devices["d1"].weight < before
        h.send(s, "BENCHMARK_RESULT", {"opsPerSecond": 90_000, "durationMs": 10})
        assert h.coordinator.devices["d1"].ops_per_second == 90_000

    def test_a_completed_chunk_is_counted_once(self):
        h = Harness()
        s = h.join("d1")
        h.submit(1)
        h.send(s, "JOB_REQUEST", {"slots": 1})
        [chunk] = h.assigned(s)
        h.complete(s, chunk)
        h.complete(s, chunk)
        assert h.coordinator.done_total == 1
        assert h.messages(s, "ERROR")[-1]["code"] == "chunk_not_held"
        assert h.coordinator.jobs == {} and f"chunk:{chunk}" not in h.stored

    def test_a_failing_chunk_is_retried_then_recorded_as_failed(self):
        h = Harness()
        s = h.join("d1")
        h.submit(1)
        for _ in range(MAX_ATTEMPTS):
            h.send(s, "JOB_REQUEST", {"slots": 1})
            h.complete(s, h.assigned(s)[-1], error="boom")
        assert h.coordinator.counts() == {"queued": 0, "assigned": 0, "done": 0, "failed": 1}

    def test_the_chunks_of_a_disconnected_device_go_back_to_the_queue_and_on(self):
        h = Harness()
        a = h.join("a")
        b = h.join("b")
        h.submit(2)
        h.send(a, "JOB_REQUEST", {"slots": 2})
        h.send(b, "JOB_REQUEST", {"slots": 2})
        assert len(h.assigned(a)) == 2
        h.close(a)
        assert sorted(h.assigned(b)) == sorted(h.assigned(a))

    def test_a_full_queue_refuses_more_work(self):
        h = Harness()
        h.submit(MAX_CHUNKS_PER_JOB)
        h.submit(MAX_QUEUE - MAX_CHUNKS_PER_JOB)
        with pytest.raises(Refused) as refused:
            h.submit(1)
        assert refused.value.status == 409
        assert len(h.coordinator.chunks) == MAX_QUEUE

    def test_job_parameters_are_checked(self):
        h = Harness()
        for kwargs in (
            {"kind": "NOPE", "chunks": 1},
            {"kind": "MAT_MUL", "chunks": 0},
            {"kind": "MAT_MUL", "chunks": 10_001},
        ):
            with pytest.raises(Refused) as refused:
                h.coordinator.submit_job(h.now, ops_per_chunk=1, **kwargs)
            assert refused.value.status == 400
        assert h.coordinator.chunks == {}


class TestLiveness:
    def test_a_silent_device_goes_offline_after_60_s_and_is_removed_after_300_s(self):
        h = Harness()
        s = h.join("d1")
        h.submit(1)
        h.send(s, "JOB_REQUEST", {"slots": 1})
        h.advance(59)
        h.fire_alarm()
        assert h.coordinator.devices["d1"].status == ONLINE
        h.advance(2)
        h.fire_alarm()
        assert h.coordinator.devices["d1"].status == OFFLINE
        assert h.server_closed[s] == CLOSE_SILENT
        assert h.coordinator.counts()["queued"] == 1
        h.close(s)
        h.advance(240)
        h.join("watcher")
        h.fire_alarm()
        assert "d1" not in h.coordinator.devices and "device:d1" not in h.stored

    def test_heartbeats_keep_a_device_online(self):
        h = Harness()
        s = h.join("d1")
        for _ in range(20):
            h.advance(10)
            h.send(s, "HEARTBEAT", {"load": 0.5})
            h.fire_alarm()
        assert h.coordinator.devices["d1"].status == ONLINE
        assert h.coordinator.devices["d1"].load == 0.5


class TestAlarm:
    def test_the_alarm_runs_only_while_sockets_are_open(self):
        h = Harness()
        assert h.alarm_at is None
        s = h.join("d1")
        assert h.alarm_at == h.now + 2
        h.advance(2)
        h.fire_alarm()
        assert h.alarm_at == h.now + 2
        assert h.messages(s, "STATUS")
        h.close(s)
        assert h.alarm_at is None

    def test_closing_a_silent_socket_stops_the_alarm_though_its_close_never_arrives(self):
        h = Harness()
        s = h.join("d1")
        h.advance(61)
        h.fire_alarm()
        assert h.server_closed[s] == CLOSE_SILENT
        assert h.coordinator.sockets == {} and h.alarm_at is None

    def test_a_replaced_socket_that_never_reports_its_close_does_not_keep_the_alarm(self):
        h = Harness()
        old = h.join("d1")
        new = h.connect(h.admit("d1", resume_key=h.resume_key(old)))
        assert h.server_closed[old] == CLOSE_REPLACED
        h.close(new)
        assert h.coordinator.sockets == {} and h.alarm_at is None

    def test_a_stray_alarm_after_the_sockets_left_does_not_rearm(self):
        h = Harness()
        h.close(h.join("d1"))
        h.fire_alarm()  # alarms are delivered at least once
        assert h.alarm_at is None

    def test_dashboards_get_the_full_snapshot_and_devices_a_compact_status(self):
        h = Harness()
        device = h.join("d1")
        dashboard = h.connect(h.admit(token=h.invite(), observer=True))
        first = h.messages(dashboard, "SNAPSHOT")[0]
        assert [d["id"] for d in first["devices"]] == ["d1"]
        h.advance(2)
        h.fire_alarm()
        assert h.messages(dashboard, "SNAPSHOT")[-1]["devicesOnline"] == 1
        status = h.messages(device, "STATUS")[-1]
        assert status["devicesOnline"] == 1 and "devices" not in status
        assert any("registered" in line["message"] for line in status["log"])


REGISTER_FRAME = json.dumps(
    {
        "type": "DEVICE_REGISTER",
        "payload": {"name": "x", "cpuCores": 4, "memoryGB": 1, "gpuAvailable": False},
    }
)


class TestValidation:
    @pytest.mark.parametrize(
        "raw",
        [
            "{not json",
            "[]",
            '{"type": 1}',
            '{"type": "LAUNCH_MISSILES", "payload": {}}',
            '{"type": "HEARTBEAT", "payload": []}',
            '{"type": "HEARTBEAT", "payload": {}, "extra": 1}',
            REGISTER_FRAME.replace('"cpuCores": 4', '"cpuCores": 0'),
            REGISTER_FRAME.replace('"cpuCores": 4', '"cpuCores": true'),
            '{"type": "JOB_COMPLETE", "payload": {"chunkId": "job-123", "durationMs": 5}}',
            '{"type": "HEARTBEAT", "payload": {"load": NaN}}',
            "[" * 100_000,
            b"\xff\xfe",
            "x" * (64 * 1024 + 1),
        ],
    )
    def test_a_bad_frame_gets_an_error_and_a_security_log_and_changes_nothing(self, raw):
        h = Harness()
        s = h.join("d1")
        before = dict(h.stored)
        effects = h.send_raw(s, raw)
        assert h.messages(s, "ERROR")
        assert h.security_logs()[-1]["event"] == "invalid_message"
        assert h.stored == before
        assert not any(type(e).__name__ == "Persist" for e in effects)

    def test_the_security_log_never_repeats_what_it_refused(self):
        h = Harness()
        s = h.join("d1")
        secret = "Bearer pasted-by-mistake-0123456789"
        h.send_raw(s, json.dumps({"type": secret, "payload": {}}))
        h.send(s, "HEARTBEAT", {secret: 1})
        h.send_raw(s, json.dumps({"type": "HEARTBEAT", secret: 1}))
        assert len(h.security_logs()) == 3
        assert "pasted" not in json.dumps(h.logs)
        assert "<str, 35 chars>" in h.security_logs()[0]["detail"]

    def test_a_socket_that_keeps_sending_garbage_is_closed(self):
        h = Harness()
        s = h.join("d1")
        for _ in range(MAX_STRIKES):
            h.send_raw(s, "garbage")
        assert h.server_closed[s] == CLOSE_POLICY
        assert h.coordinator.devices["d1"].status == OFFLINE

    def test_dashboards_cannot_send_device_messages(self):
        h = Harness()
        dashboard = h.connect(h.admit(token=h.invite(), observer=True))
        h.send(dashboard, "JOB_REQUEST", {"slots": 1})
        assert h.messages(dashboard, "ERROR")[-1]["code"] == "forbidden"


class TestRebuild:
    def test_after_eviction_the_swarm_rebuilds_from_storage_and_attachments(self):
        h = Harness()
        a = h.join("a")
        b = h.join("b")
        h.submit(6)
        h.send(a, "JOB_REQUEST", {"slots": 2})
        h.send(b, "JOB_REQUEST", {"slots": 2})
        h.complete(a, h.assigned(a)[0])
        before = h.coordinator.counts()
        h.open.pop(b)  # b's socket died while the object was evicted
        h.evict()
        assert h.coordinator.counts()["done"] == before["done"] == 1
        assert h.coordinator.devices["a"].status == ONLINE
        assert len(h.coordinator.devices["a"].active) == 1
        assert h.coordinator.devices["b"].status == OFFLINE
        assert h.coordinator.counts()["queued"] == 2 + 2  # never assigned + b's two
        assert h.alarm_at is not None
        h.complete(a, h.assigned(a)[1])
        assert h.coordinator.done_total == 2

    def test_invites_and_their_rate_limit_survive_eviction(self):
        h = Harness()
        tokens = [h.invite() for _ in range(5)]
        h.evict()
        with pytest.raises(Refused) as refused:
            h.invite()
        assert refused.value.status == 429
        h.join("d1", tokens[0])

    def test_a_rebuilt_swarm_with_no_sockets_deletes_its_alarm(self):
        h = Harness()
        s = h.join("d1")
        h.open.pop(s)
        h.evict()
        assert h.alarm_at is None
        assert h.coordinator.devices["d1"].status == OFFLINE
