"""The owner's controls: start, pause and stop, the throttle, enabling and disabling devices,
and which commands members may send over their sockets (docs/swarm.md, "Owner controls")."""

from __future__ import annotations

import json

import pytest

from flaresuite.swarm.messages import (
    PAUSED,
    RUNNING,
    STOPPED,
    RequestInvite,
    SetDeviceEnabled,
    SetInviteeCommands,
    SetRunState,
    SetThrottle,
)
from flaresuite.swarm.refusals import Refused

from .harness import Harness


def command(h: Harness, cmd) -> None:
    h.apply(h.coordinator.command(cmd, now=h.now))


def test_a_paused_swarm_hands_out_nothing_and_lets_held_chunks_finish():
    h = Harness()
    s = h.join("d1")
    h.submit(6)
    h.send(s, "JOB_REQUEST", {"slots": 2})
    held = h.assigned(s)
    command(h, SetRunState(PAUSED))
    h.complete(s, held[0])
    h.send(s, "JOB_REQUEST", {"slots": 3})
    assert h.assigned(s) == held, "no new assignment while paused"
    assert h.coordinator.counts() == {"queued": 4, "assigned": 1, "done": 1, "failed": 0}
    assert h.messages(s, "CONTROL")[-1]["runState"] == PAUSED

    command(h, SetRunState(RUNNING))
    assert len(h.assigned(s)) == 2 + 3, "the standing request is served on resume"


def test_a_stopped_swarm_takes_held_chunks_back_and_they_go_out_first_on_start():
    h = Harness()
    s = h.join("d1")
    h.submit(4)
    h.send(s, "JOB_REQUEST", {"slots": 2})
    first = h.assigned(s)
    command(h, SetRunState(STOPPED))
    cancel = h.messages(s, "JOB_CANCEL")[-1]
    assert cancel["chunkIds"] == sorted(first) and "stopped" in cancel["reason"]
    assert h.coordinator.counts() == {"queued": 4, "assigned": 0, "done": 0, "failed": 0}
    h.complete(s, first[0])
    assert h.messages(s, "ERROR")[-1]["code"] == "chunk_not_held", "a recalled chunk counts once"

    command(h, SetRunState(RUNNING))
    h.send(s, "JOB_REQUEST", {"slots": 2})
    assert h.assigned(s)[-2:] == first, "recalled chunks keep their place at the front"


def test_the_throttle_scales_how_many_chunks_a_device_may_hold():
    h = Harness()
    s = h.join("d1", cores=8)  # quota 16
    h.submit(40)
    command(h, SetThrottle(25))
    h.send(s, "JOB_REQUEST", {"slots": 64})
    assert len(h.assigned(s)) == 4
    assert h.messages(s, "CONTROL")[-1]["throttle"] == 25
    command(h, SetThrottle(10))
    tiny = h.join("d2", cores=1)  # quota 2: never below one chunk
    h.send(tiny, "JOB_REQUEST", {"slots": 2})
    assert len(h.assigned(tiny)) == 1


def test_a_disabled_device_gives_its_chunks_back_and_gets_none_until_enabled():
    h = Harness()
    a, b = h.join("a"), h.join("b")
    h.submit(4)
    h.send(a, "JOB_REQUEST", {"slots": 2})
    taken = h.assigned(a)
    command(h, SetDeviceEnabled("a", False))
    assert h.messages(a, "JOB_CANCEL")[-1]["chunkIds"] == sorted(taken)
    assert h.messages(a, "CONTROL")[-1]["enabled"] is False
    h.send(a, "JOB_REQUEST", {"slots": 2})
    h.send(b, "JOB_REQUEST", {"slots": 4})
    assert h.assigned(a) == taken and sorted(h.assigned(b)) == sorted(h.coordinator.chunks)
    assert h.coordinator.snapshot(h.now)["devices"][0]["enabled"] is False

    command(h, SetDeviceEnabled("a", True))
    h.submit(1)
    assert len(h.assigned(a)) == len(taken) + 1, "its standing request is served again"


def test_a_device_that_does_not_exist_is_404_and_changes_nothing():
    h = Harness()
    with pytest.raises(Refused) as refused:
        h.coordinator.command(SetDeviceEnabled("ghost", False), now=h.now)
    assert refused.value.status == 404 and h.stored == {}


@pytest.mark.parametrize(
    ("commands", "status"),
    [
        ((SetRunState(PAUSED), SetThrottle(5)), 400),
        ((SetThrottle(40), SetDeviceEnabled("ghost", False)), 404),
        (
            (
                SetInviteeCommands(frozenset({"run"})),
                SetDeviceEnabled("d1", False),
                RequestInvite(),
            ),
            400,
        ),
    ],
)
def test_a_refused_call_changes_nothing_even_when_earlier_commands_were_valid(commands, status):
    h = Harness()
    s = h.join("d1")
    before, stored, heard = h.coordinator.settings(), dict(h.stored), len(h.inbox[s])
    with pytest.raises(Refused) as refused:
        h.coordinator.command(*commands, now=h.now)
    assert refused.value.status == status
    assert h.coordinator.settings() == before
    assert h.coordinator.devices["d1"].enabled is True
    assert h.stored == stored and len(h.inbox[s]) == heard
    logged = len(h.logs)
    command(h, SetThrottle(50))  # the next event carries nothing the refused call began
    assert [line["message"] for line in h.logs[logged:]] == ["throttle set to 50 %"]
    assert json.loads(h.stored["meta"])["runState"] == RUNNING


def test_settings_survive_eviction():
    h = Harness()
    h.join("d1")
    command(h, SetRunState(PAUSED))
    command(h, SetThrottle(40))
    command(h, SetInviteeCommands(frozenset({"run"})))
    command(h, SetDeviceEnabled("d1", False))
    h.evict()
    assert h.coordinator.settings() == {
        "runState": PAUSED,
        "throttle": 40,
        "inviteeCommands": ["run"],
    }
    assert h.coordinator.devices["d1"].enabled is False


def test_a_swarm_stored_before_owner_controls_runs_as_before():
    h = Harness()
    h.join("d1")
    meta = json.loads(h.stored["meta"])
    h.stored["meta"] = json.dumps({k: meta[k] for k in ("swarm", "nextSeq", "done", "failed")})
    h.evict()
    assert h.coordinator.settings() == {"runState": RUNNING, "throttle": 100, "inviteeCommands": []}


def test_every_socket_hears_of_a_change_at_once():
    h = Harness()
    device = h.join("d1")
    dashboard = h.connect(h.admit(token=h.invite(), observer=True))
    command(h, SetRunState(PAUSED))
    assert h.messages(dashboard, "SNAPSHOT")[-1]["runState"] == PAUSED
    assert h.messages(device, "STATUS")[-1]["runState"] == PAUSED
    assert any("paused" in line["message"] for line in h.messages(device, "STATUS")[-1]["log"])


def test_restoring_a_swarm_rewrites_only_what_changed():
    """A wake-up used to rewrite every queued chunk: 20,000 keys for a full queue."""
    h = Harness()
    s = h.join("d1")
    h.submit(50)
    h.send(s, "JOB_REQUEST", {"slots": 2})
    h.open.pop(s)
    writes: list[dict[str, str]] = []
    h.coordinator, effects = type(h.coordinator).restore(
        "lab", dict(h.stored), [], h.now, alarm_at=h.alarm_at, **h.ids
    )
    for effect in effects:
        if type(effect).__name__ == "Persist":
            writes.append(dict(effect.put))
    (put,) = writes
    assert sorted(k for k in put if k.startswith("chunk:")) == sorted(
        f"chunk:{c}" for c in h.assigned(s)
    ), "only the two chunks the lost device held"
