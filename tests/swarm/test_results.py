"""Results are checked on a sample; a wrong one counts as a failure, and a device that keeps
sending them is disabled (docs/swarm.md, "Results")."""

from __future__ import annotations

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
