"""Device frames: what is accepted, and that nothing else is (docs/swarm.md, "Messages")."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flaresuite.swarm.kernels import MODULUS
from flaresuite.swarm.messages import (
    MAX_MESSAGE_BYTES,
    BenchmarkResult,
    DeviceRegister,
    Heartbeat,
    JobComplete,
    JobRequest,
    ProtocolError,
)
from flaresuite.swarm.protocol import encode, parse_message

CHUNK = "0b6f3a1e-9a55-4c1d-8d0e-5a2d3c4b5e6f"


def frame(kind, payload):
    return json.dumps({"type": kind, "payload": payload})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            frame(
                "DEVICE_REGISTER",
                {
                    "name": "n",
                    "cpuCores": 128,
                    "memoryGB": 0.5,
                    "gpuAvailable": True,
                    "gpuName": "A100",
                },
            ),
            DeviceRegister("n", 128, 0.5, True, "A100"),
        ),
        (frame("HEARTBEAT", {}), Heartbeat()),
        ('{"type": "HEARTBEAT"}', Heartbeat()),
        (frame("HEARTBEAT", {"load": 1}), Heartbeat(1.0)),
        (frame("JOB_REQUEST", {}), JobRequest(1)),
        (frame("JOB_REQUEST", {"slots": 64}), JobRequest(64)),
        (
            frame("JOB_COMPLETE", {"chunkId": CHUNK.upper(), "durationMs": 1, "error": "e" * 500}),
            JobComplete(CHUNK, 1, "e" * 500),
        ),
        (
            frame("JOB_COMPLETE", {"chunkId": CHUNK, "durationMs": 3, "result": MODULUS - 1}),
            JobComplete(CHUNK, 3, result=MODULUS - 1),
        ),
        (
            frame("BENCHMARK_RESULT", {"opsPerSecond": 1.5e6, "durationMs": 20}),
            BenchmarkResult(1.5e6),
        ),
        # navigator.deviceMemory says 0.25 on the smallest phones.
        (
            frame(
                "DEVICE_REGISTER",
                {"name": "p", "cpuCores": 2, "memoryGB": 0.25, "gpuAvailable": False},
            ),
            DeviceRegister("p", 2, 0.25, False),
        ),
        # The issue bounds the name at 100 characters and asks nothing more of it.
        (
            frame(
                "DEVICE_REGISTER", {"name": "", "cpuCores": 1, "memoryGB": 1, "gpuAvailable": False}
            ),
            DeviceRegister("", 1, 1.0, False),
        ),
        # durationMs need only be positive: a browser's performance.now() gives fractions.
        (
            frame("JOB_COMPLETE", {"chunkId": CHUNK, "durationMs": 812.5, "result": 0}),
            JobComplete(CHUNK, 812.5, result=0),
        ),
        (
            frame("JOB_COMPLETE", {"chunkId": CHUNK, "durationMs": 2**53 - 1, "result": 7}),
            JobComplete(CHUNK, float(2**53 - 1), result=7),
        ),
        (
            frame(
                "DEVICE_REGISTER",
                {"name": "x" * 100, "cpuCores": 1, "memoryGB": 1024, "gpuAvailable": False},
            ).encode(),
            DeviceRegister("x" * 100, 1, 1024.0, False),
        ),
    ],
)
def test_valid_frames_parse(raw, expected):
    assert parse_message(raw) == expected


REGISTER = {"name": "n", "cpuCores": 4, "memoryGB": 8, "gpuAvailable": False}


@pytest.mark.parametrize(
    ("kind", "payload", "code"),
    [
        ("DEVICE_REGISTER", {**REGISTER, "name": "x" * 101}, "invalid_payload"),
        ("DEVICE_REGISTER", {**REGISTER, "name": None}, "invalid_payload"),
        ("DEVICE_REGISTER", {**REGISTER, "cpuCores": 129}, "invalid_payload"),
        ("DEVICE_REGISTER", {**REGISTER, "cpuCores": 4.0}, "invalid_payload"),
        ("DEVICE_REGISTER", {**REGISTER, "memoryGB": 0.24}, "invalid_payload"),
        ("DEVICE_REGISTER", {**REGISTER, "memoryGB": 1025}, "invalid_payload"),
        ("DEVICE_REGISTER", {**REGISTER, "memoryGB": "8"}, "invalid_payload"),
        ("DEVICE_REGISTER", {**REGISTER, "gpuAvailable": 1}, "invalid_payload"),
        ("DEVICE_REGISTER", {**REGISTER, "gpuName": 7}, "invalid_payload"),
        ("DEVICE_REGISTER", {**REGISTER, "isAdmin": True}, "invalid_payload"),
        ("DEVICE_REGISTER", {"name": "n"}, "invalid_payload"),
        ("HEARTBEAT", {"load": 1.5}, "invalid_payload"),
        ("JOB_REQUEST", {"slots": 0}, "invalid_payload"),
        ("JOB_REQUEST", {"slots": 65}, "invalid_payload"),
        ("JOB_COMPLETE", {"chunkId": "job-1700000000-abcde", "durationMs": 5}, "invalid_payload"),
        ("JOB_COMPLETE", {"chunkId": CHUNK, "durationMs": 0}, "invalid_payload"),
        ("JOB_COMPLETE", {"chunkId": CHUNK, "durationMs": -3}, "invalid_payload"),
        ("JOB_COMPLETE", {"chunkId": CHUNK, "durationMs": 2**53}, "invalid_payload"),
        ("JOB_COMPLETE", {"chunkId": CHUNK, "durationMs": "5"}, "invalid_payload"),
        ("JOB_COMPLETE", {"chunkId": CHUNK}, "invalid_payload"),
        # A result is required unless the chunk failed, and then it is refused.
        ("JOB_COMPLETE", {"chunkId": CHUNK, "durationMs": 5}, "invalid_payload"),
        ("JOB_COMPLETE", {"chunkId": CHUNK, "durationMs": 5, "result": -1}, "invalid_payload"),
        ("JOB_COMPLETE", {"chunkId": CHUNK, "durationMs": 5, "result": MODULUS}, "invalid_payload"),
        ("JOB_COMPLETE", {"chunkId": CHUNK, "durationMs": 5, "result": 1.5}, "invalid_payload"),
        (
            "JOB_COMPLETE",
            {"chunkId": CHUNK, "durationMs": 5, "error": "e", "result": 1},
            "invalid_payload",
        ),
        (
            "JOB_COMPLETE",
            {"chunkId": CHUNK, "durationMs": 5, "error": "e" * 501},
            "invalid_payload",
        ),
        ("BENCHMARK_RESULT", {"opsPerSecond": 0, "durationMs": 5}, "invalid_payload"),
        ("NOT_A_TYPE", {}, "unknown_type"),
    ],
)
def test_out_of_range_or_mistyped_fields_are_refused(kind, payload, code):
    with pytest.raises(ProtocolError) as error:
        parse_message(frame(kind, payload))
    assert error.value.code == code


HUGE = "1" + "0" * 400
"""Valid JSON that Python parses to an int no float can hold."""


@pytest.mark.parametrize(
    "raw",
    [
        '{"type": "HEARTBEAT", "payload": {"load": HUGE}}',
        '{"type": "JOB_COMPLETE", "payload": '
        '{"chunkId": "CHUNK", "durationMs": HUGE, "result": 1}}',
        '{"type": "DEVICE_REGISTER", "payload": '
        '{"name": "n", "cpuCores": 1, "memoryGB": HUGE, "gpuAvailable": false}}',
    ],
)
def test_integers_too_large_for_a_float_are_refused_not_a_crash(raw):
    with pytest.raises(ProtocolError) as error:
        parse_message(raw.replace("HUGE", HUGE).replace("CHUNK", CHUNK))
    assert error.value.code == "invalid_payload"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        # One frame like this killed Pyodide: depth is counted before anything is parsed.
        ("[" * 8750, "invalid_json"),
        ('{"type": "HEARTBEAT", "payload": {"load": ' + "[" * 65 + "]" * 65 + "}}", "invalid_json"),
        ('{"type": "HEARTBEAT", "type": "HEARTBEAT"}', "invalid_json"),
        (b"\xef\xbb\xbf" + frame("HEARTBEAT", {}).encode(), "invalid_json"),
        (frame("HEARTBEAT", {}).encode("utf-16"), "invalid_json"),
        ('{"type": "HEARTBEAT", "payload": {"load": \ud800}}', "invalid_json"),
    ],
)
def test_frames_go_through_the_shared_json_guard(raw, code):
    with pytest.raises(ProtocolError) as error:
        parse_message(raw)
    assert error.value.code == code


def test_frames_are_encoded_compactly_one_per_note():
    assert encode("STATUS", {"a": 1}) == ('{"type":"STATUS","payload":{"a":1}}',)


def test_oversized_frames_are_refused_before_parsing():
    raw = '{"type": "HEARTBEAT", "payload": {}}' + " " * MAX_MESSAGE_BYTES
    with pytest.raises(ProtocolError) as error:
        parse_message(raw)
    assert error.value.code == "too_large"
    with pytest.raises(ProtocolError):
        parse_message("é" * (MAX_MESSAGE_BYTES // 2 + 1))  # counted in bytes, not characters


@given(
    st.one_of(
        st.text(),
        st.binary(),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(
                    st.sampled_from(
                        ["type", "payload", "name", "slots", "chunkId", "durationMs", "load", "x"]
                    ),
                    inner,
                    max_size=5,
                )
            ),
            max_leaves=20,
        ).map(lambda v: "NaN" if isinstance(v, float) and math.isnan(v) else json.dumps(v)),
    )
)
def test_any_input_parses_or_raises_protocol_error_only(raw):
    try:
        parse_message(raw)
    except ProtocolError as error:
        assert error.code and error.message
