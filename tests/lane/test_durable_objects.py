"""The lane's Durable Objects, driven through a small Worker + DO (workers/do_probe.py)
written the way the swarm coordinator is: storage, alarms, hibernatable WebSockets."""

from __future__ import annotations

import dataclasses

import pytest

from driver import LaneConfig, WebSocketClosed

pytestmark = pytest.mark.lane

ROOMS = LaneConfig(
    main="tests/lane/workers/do_probe.py",
    module_roots=("src", "tests/lane/workers"),
    durable_objects={"ROOMS": "Room"},
    alarms="manual",
)


@pytest.fixture
def lane(lane_factory):
    lane = lane_factory(ROOMS)
    lane.reset()
    return lane


def test_the_worker_reaches_one_object_per_name_through_its_namespace(lane):
    assert [lane.fetch("GET", "/rooms/a/count").text for _ in range(3)] == ["1", "2", "3"]
    assert lane.fetch("GET", "/rooms/b/count").text == "1"

    assert lane.durable_object("ROOMS", "a").state().storage == {"count": 3}


def test_events_for_one_object_run_one_at_a_time_even_across_awaits(lane):
    # Stricter than workerd, which may interleave at an await that is not storage I/O.
    response = lane.fetch("GET", "/together/a")

    assert response.text == "start,end start,end,start,end"


def test_get_by_id_reaches_the_object_get_by_name_reaches(lane):
    lane.fetch("GET", "/together/a")

    assert lane.fetch("GET", "/rooms/a/slow").text.count("end") == 3


def test_rpc_methods_are_called_through_the_stub(lane):
    lane.fetch("GET", "/rooms/a/count")

    snapshot = lane.durable_object("ROOMS", "a").call("snapshot")

    assert snapshot["count"] == 1 and snapshot["sockets"] == 0


def test_the_worker_calls_rpc_methods_on_a_stub_and_gets_python_values(lane):
    lane.fetch("GET", "/rooms/a/count")

    snapshot = lane.fetch("GET", "/snapshot/a").json()

    assert snapshot["count"] == 1 and snapshot["sockets"] == 0


def test_storage_lists_by_range_and_reads_and_deletes_many_keys(lane):
    ops = lane.durable_object("ROOMS", "store").call("storage_ops")

    assert ops["listed"] == {
        "prefix": ["a/1", "a/2"],
        "start": ["a/2", "b/1"],
        "between": ["a/2"],
        "reverse": ["b/1", "a/2"],
    }
    assert ops["stored_dict"] == {"n": [1, "two"]}
    assert ops["found"] == {"a/1": 1} and ops["deleted"] == 1


def test_delete_all_deletes_the_alarm_too(lane):
    ops = lane.durable_object("ROOMS", "store").call("storage_ops")

    assert ops["alarm_set"] is True
    assert ops["after_delete_all"] == [[], None]


def test_upgrade_returns_101_with_an_accepted_socket_that_carries_tags_and_attachment(lane):
    ws = lane.websocket("/rooms/a/ws", headers={"x-member": "alice"})

    ws.send("hello")
    reply = ws.receive_json()

    assert reply["echo"] == "hello"
    assert reply["tags"] == ["room", "member:alice"]
    assert reply["attachment"]["member"] == "alice"
    (socket,) = lane.durable_object("ROOMS", "a").state().websockets
    assert socket["tags"] == ["room", "member:alice"]


def test_get_websockets_by_tag_reaches_every_member(lane):
    alice = lane.websocket("/rooms/a/ws", headers={"x-member": "alice"})
    bob = lane.websocket("/rooms/a/ws", headers={"x-member": "bob"})

    alice.send("broadcast")

    assert alice.receive_json() == {"broadcast_from": "alice"}
    assert bob.receive_json() == {"broadcast_from": "alice"}


def test_auto_response_answers_without_waking_the_object(lane):
    ws = lane.websocket("/rooms/a/ws")
    room = lane.durable_object("ROOMS", "a")
    room.evict()

    ws.send("ping")

    assert ws.receive() == "pong"
    assert room.state().live is False


def test_eviction_rebuilds_the_instance_but_keeps_storage_sockets_and_attachments(lane):
    ws = lane.websocket("/rooms/a/ws", headers={"x-member": "alice"})
    lane.fetch("GET", "/rooms/a/count")
    ws.send("before")
    generation_before = ws.receive_json()["generation"]
    room = lane.durable_object("ROOMS", "a")

    room.evict()
    assert room.state().live is False
    ws.send("after")
    after = ws.receive_json()

    assert after["generation"] > generation_before
    assert after["attachment"] == {"member": "alice", "generation": generation_before}
    assert room.state().storage["count"] == 1


def test_an_attachment_must_be_converted_to_js_first(lane):
    lane.websocket("/rooms/a/ws")

    response = lane.fetch("GET", "/rooms/a/bad-attachment")

    assert response.status == 500 and "DataCloneError" in response.text


def test_an_alarm_runs_its_handler_and_clears(lane):
    ws = lane.websocket("/rooms/a/ws")
    lane.fetch("GET", "/rooms/a/alarm")
    room = lane.durable_object("ROOMS", "a")
    assert room.state().alarm is not None

    result = room.alarm()

    assert result.ran and result.error is None
    assert ws.receive() == "tick"
    state = room.state()
    assert state.alarm is None and state.storage["alarms"] == 1


def test_triggering_without_a_pending_alarm_runs_nothing(lane):
    assert lane.durable_object("ROOMS", "a").alarm().ran is False


def test_a_failed_alarm_is_retried_with_its_retry_count(lane):
    lane.fetch("GET", "/rooms/a/fail-alarms")
    lane.fetch("GET", "/rooms/a/alarm")
    room = lane.durable_object("ROOMS", "a")

    failed = room.alarm()
    assert "RuntimeError: alarm failed once" in failed.error
    assert room.state().alarm_retries == 1
    retried = room.alarm()

    assert retried.ran and retried.error is None and retried.retry_count == 1
    state = room.state()
    assert state.storage["retry_count"] == 1 and state.alarm is None


def test_a_due_alarm_fires_by_itself_when_alarms_are_automatic(lane_factory):
    lane = lane_factory(dataclasses.replace(ROOMS, alarms="auto"))
    lane.reset()
    ws = lane.websocket("/rooms/a/ws")

    lane.fetch("GET", "/rooms/a/alarm-now")

    assert ws.receive() == "tick"
    assert lane.durable_object("ROOMS", "a").state().alarm is None


def test_a_failed_alarm_that_set_a_new_alarm_is_not_retried(lane):
    lane.fetch("GET", "/rooms/a/fail-alarms")
    lane.fetch("GET", "/rooms/a/alarm")
    room = lane.durable_object("ROOMS", "a")
    scheduled = room.state().alarm
    assert room.alarm().error and room.state().alarm_retries == 1
    lane.fetch("GET", "/rooms/a/fail-and-reschedule")

    failed_retry = room.alarm()

    state = room.state()
    assert failed_retry.retry_count == 1 and "alarm failed once" in failed_retry.error
    assert state.alarm > scheduled and state.alarm_retries == 0
    assert room.alarm().retry_count == 0


def test_a_client_close_reaches_web_socket_close_and_drops_the_socket(lane):
    ws = lane.websocket("/rooms/a/ws", headers={"x-member": "alice"})

    ws.close(1001, "going away")

    state = lane.durable_object("ROOMS", "a").state()
    assert state.storage["closed"] == [["alice", 1001, "going away", True]]
    assert state.websockets == []


def test_a_vanished_client_is_an_unclean_1006_close(lane):
    ws = lane.websocket("/rooms/a/ws", headers={"x-member": "bob"})

    ws.disconnect()

    assert lane.durable_object("ROOMS", "a").state().storage["closed"] == [["bob", 1006, "", False]]


def test_a_protocol_error_reaches_web_socket_error(lane):
    ws = lane.websocket("/rooms/a/ws")

    ws.fail("bad frame")

    assert lane.durable_object("ROOMS", "a").state().storage["error"] == "bad frame"


def test_a_server_close_reaches_the_client(lane):
    ws = lane.websocket("/rooms/a/ws")

    ws.send("bye")

    with pytest.raises(WebSocketClosed) as closed:
        ws.receive()
    assert (closed.value.code, closed.value.reason) == (4000, "bye")


def test_a_socket_can_be_opened_on_the_object_directly(lane):
    ws = lane.durable_object("ROOMS", "direct").websocket(headers={"x-member": "carol"})

    ws.send("hi")

    assert ws.receive_json()["attachment"]["member"] == "carol"
