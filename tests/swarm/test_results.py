"""Results are checked on a sample; a wrong one counts as a failure, and a device that keeps
sending them is disabled. Frames beyond a socket's budget are dropped with one warning, and a
flood closes the socket (docs/swarm.md, "Results" and "Rate limits")."""

from __future__ import annotations

from flaresuite.swarm.coordinator import CLOSE_POLICY
from flaresuite.swarm.model import OFFLINE
from flaresuite.swarm.ratelimit import BURST, MAX_DEBT, FrameBudget
from flaresuite.swarm.verification import CHECK_FIRST, MAX_WRONG

from .harness import Harness


def test_a_right_result_is_verified_and_counted():
    h = Harness()
    s = h.join("d1")
    h.submit(1, kind="MAT_MUL")
    h.send(s, "JOB_REQUEST", {"slots": 1})
    h.complete(s, h.assigned(s)[0])
    device = h.coordinator.devices["d1"]
    assert (device.completed, device.verified, device.rejected) == (1, 1, 0)


def test_a_wrong_result_costs_the_device_not_the_chunk_which_goes_out_again():
    h = Harness()
    s = h.join("d1")
    h.submit(1)
    h.send(s, "JOB_REQUEST", {"slots": 1})
    chunk = h.assigned(s)[0]
    h.complete(s, chunk, result=(h.result(chunk) + 1) % 1000)
    assert h.messages(s, "ERROR")[-1]["code"] == "wrong_result"
    assert h.security_logs()[-1]["event"] == "wrong_result"
    assert h.coordinator.chunks[chunk].attempts == 0
    assert h.coordinator.devices["d1"].rejected == 1
    assert h.coordinator.counts() == {"queued": 1, "assigned": 0, "done": 0, "failed": 0}


def test_a_device_with_three_wrong_results_is_disabled():
    h = Harness()
    cheat, honest = h.join("cheat"), h.join("honest")
    h.submit(MAX_WRONG + 2)
    for _ in range(MAX_WRONG):
        h.send(cheat, "JOB_REQUEST", {"slots": 1})
        h.complete(cheat, h.assigned(cheat)[-1], result=0)
    assert h.coordinator.devices["cheat"].enabled is False
    h.send(cheat, "JOB_REQUEST", {"slots": 4})
    h.send(honest, "JOB_REQUEST", {"slots": 8})
    for chunk in h.assigned(honest):
        h.complete(honest, chunk)
    assert h.coordinator.done_total == MAX_WRONG + 2, "every chunk still finished, by others"
    assert h.coordinator.failed_total == 0, "the same chunk came back wrong three times"


def test_after_the_first_results_only_a_sample_is_checked():
    h = Harness()
    draws = iter([0.5] * 10)  # above the 10 % share: not checked
    h.coordinator._sample = lambda: next(draws)
    s = h.join("d1")
    h.submit(CHECK_FIRST + 3)
    h.send(s, "JOB_REQUEST", {"slots": 8})
    chunks = h.assigned(s)
    for chunk in chunks[:CHECK_FIRST]:
        h.complete(s, chunk)
    for chunk in chunks[CHECK_FIRST:]:
        h.complete(s, chunk, result=0)  # wrong, and not drawn for a check
    device = h.coordinator.devices["d1"]
    assert (device.verified, device.rejected, device.completed) == (CHECK_FIRST, 0, len(chunks))


def test_ostrich_results_cannot_be_checked_and_are_taken_as_they_come():
    h = Harness()
    s = h.join_ostrich("node-abc")
    h.submit(1)
    h.send_ostrich(s, "job:request_batch", {})
    (job,) = h.ostrich_jobs(s)
    h.send_ostrich(
        s,
        "job:complete",
        {"chunkId": job["id"], "result": 123.45, "workerId": "node-abc", "durationMs": 3.2},
    )
    device = h.coordinator.devices["node-abc"]
    assert (device.completed, device.verified, device.rejected) == (1, 0, 0)


# -- frame budgets --------------------------------------------------------------------------------


def test_the_budget_refills_and_refunds_useful_work():
    budget = FrameBudget(0.0)
    assert all(budget.take(0.0) for _ in range(BURST))
    assert not budget.take(0.0)
    assert budget.take(0.05)  # one frame's worth refilled (20 per second)
    budget.refund()
    assert budget.take(0.05) and budget.take(0.05)


def test_a_flood_is_dropped_with_one_warning_then_closed():
    h = Harness()
    s = h.join("d1")
    frames = 0
    while s in h.open and frames < 2000:
        h.send(s, "BENCHMARK_RESULT", {"opsPerSecond": 1000, "durationMs": 1})
        h.advance(0.001)  # 1,000 frames a second, as the fuzz run sent them
        frames += 1
    assert h.server_closed[s] == CLOSE_POLICY
    assert frames < BURST + MAX_DEBT + 50, "closed within a fraction of a second"
    warnings = [m for m in h.messages(s, "ERROR") if m["code"] == "rate_limited"]
    assert len(warnings) == 1
    events = [r["event"] for r in h.security_logs()]
    assert events.count("rate_limited") == 1 and events[-1] == "flooding"
    benchmarks = sum("benchmark" in r.get("message", "") for r in h.logs)
    assert benchmarks < BURST + 20, "dropped frames were neither handled nor logged"
    assert h.coordinator.devices["d1"].status == OFFLINE


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
    assert not [m for m in h.messages(s, "ERROR") if m["code"] == "rate_limited"]


def test_a_quiet_spell_forgives_an_earlier_burst():
    budget = FrameBudget(0.0)
    while budget.take(0.0):
        pass
    assert budget.drop() == (True, False), "the first drop warns"
    assert budget.drop() == (False, False), "later ones do not"
    assert budget.take(10.0) and budget.debt == 0
    while budget.take(10.0):
        pass
    assert budget.drop() == (True, False), "a new episode earns a new warning"
