"""The coordinator's own wire format, spoken by ``swarm device``, the join page and dashboards.

Every frame is one JSON object ``{"type": ..., "payload": {...}}``. Device frames are parsed
here into :mod:`.messages` before the coordinator acts on them; anything else raises
:class:`~.messages.ProtocolError`. The limits are those of docs/swarm.md (and of the schemas the
seed proposed but never applied, see research section 3.1), with one deliberate difference:
chunk ids are the UUIDs this coordinator generates, so ``chunkId`` must be a UUID.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flaresuite.swarm import kernels
from flaresuite.swarm.messages import (
    MAX_ERROR_CHARS,
    MAX_SAFE_INTEGER,
    MAX_SLOTS_PER_REQUEST,
    BenchmarkResult,
    DeviceMessage,
    DeviceRegister,
    Envelope,
    Heartbeat,
    Invalid,
    JobComplete,
    JobRequest,
    Wire,
    body_object,
    chunk_id,
    integer,
    number,
    only,
    optional_text,
    positive,
    register,
)

NAME = "swarm"


def encode(kind: str, payload: Mapping[str, Any]) -> tuple[str, ...]:
    """One coordinator frame, compact (it may go to thousands of sockets)."""
    return (json.dumps({"type": kind, "payload": payload}, separators=(",", ":")),)


def _register(body: Any) -> DeviceRegister:
    payload = body_object(body)
    only(payload, {"name", "cpuCores", "memoryGB", "gpuAvailable", "gpuName"})
    return register(payload, payload)


def _heartbeat(body: Any) -> Heartbeat:
    payload = body_object(body)
    only(payload, {"load"})
    if "load" not in payload:
        return Heartbeat()
    return Heartbeat(load=number(payload, "load", 0.0, 1.0))


def _job_request(body: Any) -> JobRequest:
    payload = body_object(body)
    only(payload, {"slots"})
    return JobRequest(slots=integer(payload, "slots", 1, MAX_SLOTS_PER_REQUEST, default=1))


def _job_complete(body: Any) -> JobComplete:
    payload = body_object(body)
    only(payload, {"chunkId", "durationMs", "error", "result"})
    error = optional_text(payload, "error", MAX_ERROR_CHARS)
    if error is None:
        result = integer(payload, "result", 0, kernels.MODULUS - 1)
    elif "result" in payload:
        raise Invalid("result is not allowed with error: a failed chunk has no result")
    else:
        result = None
    return JobComplete(
        chunk_id=chunk_id(payload),
        duration_ms=positive(payload, "durationMs", MAX_SAFE_INTEGER),
        error=error,
        result=result,
    )


def _benchmark(body: Any) -> BenchmarkResult:
    payload = body_object(body)
    only(payload, {"opsPerSecond", "durationMs"})
    positive(payload, "durationMs", MAX_SAFE_INTEGER)  # how long it ran: checked, not kept
    return BenchmarkResult(ops_per_second=positive(payload, "opsPerSecond", 1e15))


ENVELOPE: Envelope[DeviceMessage] = Envelope(
    frame="message",
    kind="type",
    body="payload",
    parsers={
        "DEVICE_REGISTER": _register,
        "HEARTBEAT": _heartbeat,
        "JOB_REQUEST": _job_request,
        "JOB_COMPLETE": _job_complete,
        "BENCHMARK_RESULT": _benchmark,
    },
)
parse_message = ENVELOPE.parse
"""Parses and validates one device frame, or raises :class:`ProtocolError`."""

WIRE = Wire(NAME, parse_message, encode, device_view="STATUS")
