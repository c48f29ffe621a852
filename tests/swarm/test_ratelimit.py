"""Each socket's frame budget (docs/swarm.md, "Rate limits"; issue 14): a sender within it is
never dropped, one above it has frames dropped with one warning per episode, and one that
stays above it is closed with 1008, whatever its rate. Time is the harness's clock."""

from __future__ import annotations

import pytest

from flaresuite.swarm.coordinator import CLOSE_POLICY
from flaresuite.swarm.model import OFFLINE, ONLINE
from flaresuite.swarm.ratelimit import (
    BURST,
    FRAMES_PER_SECOND,
    MAX_DROPS,
    QUIET_SECONDS,
    FrameBudget,
)

from .harness import Harness

BENCHMARK = {"opsPerSecond": 1000, "durationMs": 1}


def send_at(h: Harness, socket_id: str, rate: float, seconds: float) -> int:
    """Sends useless frames (benchmarks), one every ``1 / rate`` seconds for ``seconds``, or
    until the socket is closed; returns how many were sent."""
    sent = 0
    while socket_id in h.open and sent < rate * seconds:
        h.advance(1 / rate)
        h.send(socket_id, "BENCHMARK_RESULT", BENCHMARK)
        sent += 1
    return sent


def warnings(h: Harness, socket_id: str) -> int:
    return sum(m["code"] == "rate_limited" for m in h.messages(socket_id, "ERROR"))


def security_events(h: Harness) -> list[str]:
    return [r["event"] for r in h.security_logs()]


def empty(budget: FrameBudget, now: float) -> None:
    while budget.take(now):
        pass


# -- the bucket ---------------------------------------------------------------------------------


def test_the_budget_refills_and_refunds_useful_work():
    budget = FrameBudget(0.0)
    assert all(budget.take(0.0) for _ in range(BURST))
    assert not budget.take(0.0)
    assert budget.take(1 / FRAMES_PER_SECOND)  # one frame's worth refilled
    budget.refund()
    assert budget.take(0.05) and budget.take(0.05)


def test_drops_less_than_a_quiet_spell_apart_are_one_episode_whose_debt_is_never_forgiven():
    budget = FrameBudget(0.0)
    empty(budget, 0.0)
    assert budget.drop(0.0) == (True, False), "the first drop warns"
    now = 0.0
    for _ in range(MAX_DROPS - 2):
        now += QUIET_SECONDS - 0.5
        assert budget.drop(now) == (False, False), "no second warning within the episode"
    assert budget.drop(now + QUIET_SECONDS - 0.5) == (False, True), "the last drop closes"


def test_a_quiet_spell_ends_the_episode_so_the_next_drop_warns_and_the_debt_starts_again():
    budget = FrameBudget(0.0)
    empty(budget, 0.0)
    for _ in range(MAX_DROPS - 1):
        budget.drop(0.0)
    assert budget.debt == MAX_DROPS - 1
    assert budget.take(QUIET_SECONDS), "the bucket refilled meanwhile"
    empty(budget, QUIET_SECONDS)
    assert budget.drop(QUIET_SECONDS) == (True, False), "a new episode earns a new warning"
    assert budget.debt == 1


# -- through the coordinator --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "closed_within"),
    [
        (1000, 1),  # the fuzz run's rate
        (45, 10),
        (39, 10),  # above twice the refill: the first version warned 1,091 times a minute
        (25, 40),  # just above: the first version warned on each of 251 drops a minute
        (21, 200),  # one frame a second over
    ],
)
def test_any_sender_that_stays_over_the_refill_rate_is_warned_once_then_closed_with_1008(
    rate, closed_within
):
    h = Harness()
    s = h.join("d1")
    start = h.now
    sent = send_at(h, s, rate, seconds=closed_within)
    assert h.server_closed.get(s) == CLOSE_POLICY, f"still open after {sent} frames"
    assert h.now - start <= closed_within
    assert warnings(h, s) == 1, "one warning for the whole episode, not one per drop"
    events = security_events(h)
    assert events.count("rate_limited") == 1 and events[-1] == "flooding"
    assert h.coordinator.devices["d1"].status == OFFLINE
    accepted = sum("benchmark" in r.get("message", "") for r in h.logs)
    assert accepted == sent - MAX_DROPS, "dropped frames were neither handled nor logged"


def test_a_sender_that_stops_before_it_is_closed_is_warned_again_only_after_a_quiet_spell():
    h = Harness()
    s = h.join("d1")
    send_at(h, s, 1000, seconds=(BURST + MAX_DROPS // 2) / 1000)
    assert warnings(h, s) == 1
    h.advance(QUIET_SECONDS / 2)  # a pause shorter than a quiet spell: the same episode
    send_at(h, s, 1000, seconds=(BURST + MAX_DROPS // 4) / 1000)
    assert warnings(h, s) == 1 and s in h.open
    h.advance(QUIET_SECONDS)
    send_at(h, s, 1000, seconds=(BURST + MAX_DROPS // 2) / 1000)
    assert warnings(h, s) == 2, "a new episode, with a new warning"
    assert s in h.open, "and its debt started from zero"


def test_a_well_behaved_sender_and_its_bursts_are_never_dropped():
    h = Harness()
    s = h.join("d1")
    for _ in range(3):
        h.advance(0.1)
        for _ in range(BURST):  # a burst as large as the bucket, all at once
            h.send(s, "HEARTBEAT", {"load": 0.5})
        send_at(h, s, 10, seconds=60)  # then ten frames a second for a minute
    assert warnings(h, s) == 0 and not security_events(h)
    assert s in h.open and h.coordinator.devices["d1"].status == ONLINE
    assert sum("benchmark" in r.get("message", "") for r in h.logs) == 3 * 600


def test_a_device_finishing_small_chunks_fast_is_never_limited():
    h = Harness()
    s = h.join("d1", cores=16)
    h.submit(600)
    h.send(s, "JOB_REQUEST", {"slots": 32})
    for _ in range(600):
        chunk = next(c for c in h.assigned(s) if c in h.coordinator.chunks)
        h.complete(s, chunk)
        h.send(s, "JOB_REQUEST", {"slots": 1})
        h.advance(0.002)  # 500 frames a second, all of them useful
    assert h.coordinator.done_total == 600
    assert warnings(h, s) == 0
