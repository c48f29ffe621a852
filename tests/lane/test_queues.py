"""Cloudflare Queues on the lane: producer bindings and the consumer's ``queue`` event, over
Miniflare's real broker (docs/runtime.md, "Queues")."""

from __future__ import annotations

import json

import pytest

from driver import LaneConfig, LaneError, QueueConsumer, WorkerError

pytestmark = pytest.mark.lane

QUEUE_PROBE = LaneConfig(
    main="tests/lane/workers/queue_probe.py",
    module_roots=("src", "tests/lane/workers"),
    queues={"JOBS": "jobs"},
    queue_consumers=(
        QueueConsumer("jobs", max_retries=2, dead_letter_queue="jobs-dead"),
        QueueConsumer("jobs-dead", max_retries=0),
    ),
)


@pytest.fixture
def lane(lane_factory):
    lane = lane_factory(QUEUE_PROBE)
    lane.reset()
    lane.drain_queues()
    return lane


def send(lane, *bodies, **order):
    response = lane.fetch("POST", "/send", body=json.dumps({"bodies": bodies, **order}))
    assert response.status == 202


def seen(lane):
    return [record for record in lane.json_logs() if "attempts" in record]


def test_a_sent_message_reaches_the_consumer_as_workerd_shapes_it(lane):
    send(lane, {"job": 1})

    [batch] = lane.drain_queues()

    assert batch.queue == "jobs" and batch.error is None
    [message] = batch.messages
    assert (message.body, message.attempts, message.outcome) == ({"job": 1}, 1, "acked")
    [record] = seen(lane)
    assert record["queue"] == "jobs" and record["id"] == message.id
    assert record["timestamp_is_datetime"] and record["body_type"] == "JsDict"
    assert record["body"] == {"job": 1} and record["attempts"] == 1


def test_send_batch_arrives_as_one_batch(lane):
    send(lane, {"n": 1}, {"n": 2}, {"n": 3}, batch=True)

    [batch] = lane.drain_queues()

    assert [m.body for m in batch.messages] == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert {r["batch_size"] for r in seen(lane)} == {3}


def test_a_retried_message_comes_back_until_it_is_acked(lane):
    send(lane, {"do": "retry", "do_on_attempt": {"2": "ack"}})

    batches = lane.drain_queues()

    assert [(m.attempts, m.outcome) for b in batches for m in b.messages] == [
        (1, "retried"),
        (2, "acked"),
    ]
    assert batches[0].calls == [["retry", batches[0].messages[0].id, {}]]


def test_a_message_retried_past_max_retries_goes_to_the_dead_letter_queue(lane):
    send(lane, {"do": "retry"})

    batches = lane.drain_queues()

    delivered = [(b.queue, m.attempts, m.outcome) for b in batches for m in b.messages]
    assert delivered == [
        ("jobs", 1, "retried"),
        ("jobs", 2, "retried"),
        ("jobs", 3, "dead-lettered"),
        # The dead-letter queue's consumer retries it too (max_retries=0: one attempt).
        ("jobs-dead", 1, "dropped"),
    ]


def test_a_handler_that_raises_has_its_whole_batch_retried(lane):
    send(lane, {"do": "raise", "do_on_attempt": {"2": "ack"}}, {"do": "ack"}, batch=True)

    first, second = lane.drain_queues()

    assert "RuntimeError: consumer failed on purpose" in first.error
    assert [m.outcome for m in first.messages] == ["retried", "retried"]
    assert second.error is None and [m.outcome for m in second.messages] == ["acked", "acked"]
    assert [m.attempts for m in second.messages] == [2, 2]


def test_ack_all_and_retry_all_apply_to_the_whole_batch(lane):
    send(lane, {"do": "nothing"}, {"do": "ack_all", "do_on_attempt": {"2": "ack"}}, batch=True)
    [acked] = lane.drain_queues()
    assert [m.outcome for m in acked.messages] == ["acked", "acked"]
    assert acked.calls == [["ackAll"]]

    send(lane, {"do": "retry_all", "do_on_attempt": {"2": "ack"}}, {"do": "ack"}, batch=True)
    first, second = lane.drain_queues()
    # ack() after retryAll() has no effect, as on workerd: the acked message comes back too.
    assert [m.outcome for m in first.messages] == ["retried", "retried"]
    assert [m.outcome for m in second.messages] == ["acked", "acked"]


def test_the_driver_sends_by_queue_name(lane):
    lane.queue_send("jobs", {"$looks_like_a_tag": [1, "two", None]})

    [batch] = lane.drain_queues()

    assert batch.messages[0].body == {"$looks_like_a_tag": [1, "two", None]}


def test_bytes_sent_as_bytes_arrive_as_bytes(lane):
    lane.queue_send("jobs", b"\x00\xff", content_type="bytes")

    [batch] = lane.drain_queues()

    assert batch.messages[0].body == b"\x00\xff"
    [record] = seen(lane)
    assert record["body_type"] == "memoryview"


def test_miniflare_turns_typed_arrays_and_dates_in_v8_bodies_into_plain_values(lane):
    # Miniflare's broker, unlike Cloudflare, does not keep these through the v8 content type:
    # a Worker that needs bytes sends them with content_type "bytes".
    lane.queue_send("jobs", {"bytes": b"\x00\xff"})

    [batch] = lane.drain_queues()

    assert batch.messages[0].body == {"bytes": {"0": 0, "1": 255}}


def test_workerd_checks_what_the_producer_sends(lane):
    with pytest.raises(WorkerError, match="TypeError"):
        send(lane, {"not": "text"}, content_type="text")
    assert lane.drain_queues() == []


def test_sending_to_a_queue_the_lane_does_not_know_is_refused(lane):
    with pytest.raises(LaneError, match="no queue elsewhere"):
        lane.queue_send("elsewhere", "hello")


def test_memory_is_reported_after_every_command_and_never_shrinks(lane):
    lane.fetch("POST", "/send", body='{"bodies": []}')
    before = lane.wasm_memory_bytes
    assert before is not None and before > 0

    lane.run_python("_grow = bytearray(64 * 1024 * 1024); del _grow")

    peak = lane.wasm_memory_bytes
    assert peak > before and peak >= 64 * 1024 * 1024

    lane.fetch("POST", "/send", body='{"bodies": []}')
    assert lane.wasm_memory_bytes == peak == lane.memory()
