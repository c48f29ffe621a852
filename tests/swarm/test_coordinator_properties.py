"""Hypothesis drives the coordinator through arbitrary joins (both wire formats), leaves,
reconnects, late closes, completions in any order (right, wrong or failed), the owner's
commands, silences, evictions and garbage, and checks after every step:

- every chunk ever queued is queued, held by exactly one online device, or finished, and each
  finished chunk was counted exactly once;
- no device is both online and removed, and an offline device holds nothing;
- storage always matches memory, so an eviction at any point loses nothing.
"""

from __future__ import annotations

import heapq
import json

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from flaresuite.swarm.messages import (
    RUN_STATES,
    SetDeviceEnabled,
    SetRunState,
    SetThrottle,
)
from flaresuite.swarm.model import OFFLINE, ONLINE
from flaresuite.swarm.refusals import Refused

from .harness import Harness

DEVICE_IDS = [f"dev-{i}" for i in range(5)]
VOLATILE = {"last_seen", "load"}
"""Written with status changes only, not on every heartbeat (see flaresuite.swarm.model)."""


def _durable(text):
    value = json.loads(text)
    return (
        {k: v for k, v in value.items() if k not in VOLATILE} if isinstance(value, dict) else value
    )


class SwarmMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.h = Harness()
        self.token = self.h.invite(multi_use=True)
        self.created: set[str] = set()
        self.sockets: list[str] = []
        """Every socket ever opened, so closes can arrive late and in any order."""
        self.current: dict[str, str] = {}
        self.keys: dict[str, str] = {}
        self.ever_known: set[str] = set()

    # -- events ---------------------------------------------------------------------------

    @rule(device=st.sampled_from(DEVICE_IDS), cores=st.integers(1, 8), register=st.booleans())
    def join(self, device, cores, register):
        known = self.h.coordinator.devices.get(device)
        try:
            if known is not None and device in self.keys and (known.status == ONLINE or register):
                admission = self.h.admit(device, resume_key=self.keys[device])
            else:
                admission = self.h.admit(device, token=self.token)
        except Refused as refused:
            assert refused.status in (401, 409)
            return
        socket_id = self.h.connect(admission)
        if admission.resume_key is not None:
            self.keys[device] = admission.resume_key
        self.sockets.append(socket_id)
        self.current[device] = socket_id
        self.ever_known.add(device)
        if register:
            self.h.send(
                socket_id,
                "DEVICE_REGISTER",
                {"name": device, "cpuCores": cores, "memoryGB": 4, "gpuAvailable": cores > 4},
            )

    @rule(device=st.sampled_from(["node-a", "node-b"]))
    def join_from_ostrich_legs(self, device):
        try:
            socket_id = self.h.join_ostrich(device, self.token)
        except Refused as refused:
            assert refused.status == 409
            return
        self.sockets.append(socket_id)
        self.current[device] = socket_id
        self.ever_known.add(device)

    @rule(state=st.sampled_from(RUN_STATES))
    def owner_sets_the_run_state(self, state):
        self.h.apply(self.h.coordinator.command(SetRunState(state), now=self.h.now))

    @rule(percent=st.integers(10, 100))
    def owner_throttles(self, percent):
        self.h.apply(self.h.coordinator.command(SetThrottle(percent), now=self.h.now))

    @precondition(lambda self: self.h.coordinator.devices)
    @rule(data=st.data(), enabled=st.booleans())
    def owner_switches_a_device(self, data, enabled):
        device = data.draw(st.sampled_from(sorted(self.h.coordinator.devices)))
        self.h.apply(self.h.coordinator.command(SetDeviceEnabled(device, enabled), now=self.h.now))

    @precondition(lambda self: self.sockets)
    @rule(data=st.data())
    def close_any_socket(self, data):
        self.h.close(data.draw(st.sampled_from(self.sockets)))

    @rule(chunks=st.integers(1, 6))
    def submit(self, chunks):
        before = set(self.h.coordinator.chunks)
        self.h.submit(chunks)
        self.created |= set(self.h.coordinator.chunks) - before

    @precondition(lambda self: self.current)
    @rule(data=st.data(), slots=st.integers(1, 8))
    def request(self, data, slots):
        device = data.draw(st.sampled_from(sorted(self.current)))
        if device.startswith("node-"):
            self.h.send_ostrich(self.current[device], "job:request_batch", {})
        else:
            self.h.send(self.current[device], "JOB_REQUEST", {"slots": slots})

    @precondition(lambda self: self.current and self.created)
    @rule(
        data=st.data(),
        outcome=st.sampled_from(["right", "wrong", "error"]),
        ms=st.integers(1, 10_000),
    )
    def complete(self, data, outcome, ms):
        device = data.draw(st.sampled_from(sorted(self.current)))
        socket_id = self.current[device]
        held = self.h.assigned(socket_id) + [job["id"] for job in self.h.ostrich_jobs(socket_id)]
        chunk = data.draw(st.sampled_from(held or sorted(self.created)))
        if device.startswith("node-"):
            self.h.send_ostrich(
                socket_id,
                "job:complete",
                {"chunkId": chunk, "result": 1.5, "workerId": device, "durationMs": ms}
                if outcome != "error"
                else {"chunkId": chunk, "error": "boom", "workerId": device},
            )
        elif outcome == "error":
            self.h.complete(socket_id, chunk, error="simulated failure", ms=ms)
        elif outcome == "wrong":
            self.h.complete(socket_id, chunk, result=12345, ms=ms)
        else:
            self.h.complete(socket_id, chunk, ms=ms)

    @precondition(lambda self: self.sockets)
    @rule(data=st.data(), raw=st.one_of(st.text(max_size=30), st.binary(max_size=30)))
    def garbage(self, data, raw):
        self.h.send_raw(data.draw(st.sampled_from(self.sockets)), raw)

    @precondition(lambda self: self.current)
    @rule(data=st.data())
    def heartbeat(self, data):
        device = data.draw(st.sampled_from(sorted(self.current)))
        if device.startswith("node-"):
            self.h.send_ostrich(self.current[device], "heartbeat", {"lastInteraction": 1})
        else:
            self.h.send(self.current[device], "HEARTBEAT", {})

    @rule(seconds=st.sampled_from([2, 10, 30, 61, 301]))
    def time_passes(self, seconds):
        self.h.advance(seconds)
        self.h.fire_alarm()

    @rule(drop=st.booleans())
    def evict(self, drop):
        if drop and self.h.open:
            # A socket the runtime lost while the object was away.
            self.h.open.pop(min(self.h.open))
        self.h.evict()

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def every_chunk_is_queued_held_or_finished_once(self):
        c = self.h.coordinator
        unfinished = set(c.chunks)
        assert unfinished <= self.created
        finished = self.created - unfinished
        assert c.done_total + c.failed_total == len(finished)
        queued = [chunk_id for _, chunk_id in c.queue]
        assert len(queued) == len(set(queued))
        held: list[str] = []
        for device in c.devices.values():
            held.extend(device.active)
        assert len(held) == len(set(held)), "a chunk is held twice"
        assert set(queued) | set(held) == unfinished
        assert not set(queued) & set(held)
        for chunk_id in held:
            holder = c.devices[c.chunks[chunk_id].assigned_to]
            assert chunk_id in holder.active and holder.status == ONLINE
        assert sorted(queued) == sorted(i for _, i in heapq.nsmallest(len(c.queue), c.queue))

    @invariant()
    def no_device_is_both_online_and_removed(self):
        c = self.h.coordinator
        for device in c.devices.values():
            if device.status == ONLINE:
                assert device.socket_id in c.sockets
            else:
                assert device.status == OFFLINE and not device.active and device.socket_id is None
        removed = self.ever_known - set(c.devices)
        assert not any(c.devices.get(d) for d in removed)

    @invariant()
    def every_known_device_socket_is_its_devices_current_one(self):
        c = self.h.coordinator
        for socket_id, att in c.sockets.items():
            if att.device_id is not None:
                assert c.devices[att.device_id].socket_id == socket_id

    @invariant()
    def storage_matches_memory(self):
        c = self.h.coordinator
        stored = self.h.stored
        assert {k[6:] for k in stored if k.startswith("chunk:")} == set(c.chunks)
        assert {k[7:] for k in stored if k.startswith("device:")} == set(c.devices)
        for key in stored:
            assert _durable(stored[key]) == _durable(c.stored_value(key))

    @invariant()
    def only_enabled_devices_of_a_running_swarm_get_work(self):
        c = self.h.coordinator
        for device in c.devices.values():
            if not device.enabled:
                assert not device.active and device.id not in c._waiting
        if c.run_state == "STOPPED":
            assert c.counts()["assigned"] == 0

    @invariant()
    def the_alarm_is_set_exactly_while_sockets_are_open(self):
        c = self.h.coordinator
        assert (self.h.alarm_at is not None) == bool(c.sockets)


SwarmMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSwarmMachine = SwarmMachine.TestCase
