"""The coordinator's own wire format, spoken by ``swarm device``, the join page and dashboards.

Every frame is one JSON object ``{"type": ..., "payload": {...}}``. Device frames are parsed
here into :mod:`.messages` before the coordinator acts on them; anything else raises
:class:`~.messages.ProtocolError`. The limits are those of docs/swarm.md (and of the schemas the
seed proposed but never applied, see research section 3.1), with one deliberate difference:
chunk ids are the UUIDs this coordinator generates, so ``chunkId`` must be a UUID.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from flaresuite.redact import describe_rejected
from flaresuite.swarm import kernels
from flaresuite.swarm.messages import (
    MAX_ERROR_CHARS,
    MAX_SAFE_INTEGER,
    MAX_SLOTS_PER_REQUEST,
    BenchmarkResult,
    DeviceMessage,
    DeviceRegister,
    Heartbeat,
    Invalid,
    JobComplete,
    JobRequest,
    ProtocolError,
    Wire,
    chunk_id,
    decode,
    integer,
    number,
    only,
    optional_text,
    positive,
    register,
)

NAME = "swarm"


def parse_message(raw: str | bytes) -> DeviceMessage:
    """Parses and validates one device frame, or raises :class:`ProtocolError`."""
    document = decode(raw)
    if not isinstance(document, dict):
        raise ProtocolError("invalid_message", "message must be a JSON object")
    unknown = sorted(set(document) - {"type", "payload"})
    if unknown:
        found = describe_rejected(unknown[0])
        raise ProtocolError("invalid_message", f"message has an unknown field {found}")
    kind = document.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("invalid_message", "message.type must be a string")
    parse = _PARSERS.get(kind)
    if parse is None:
        raise ProtocolError("unknown_type", f"unknown message type {describe_rejected(kind)}")
    payload = document.get("payload", {})
    if not isinstance(payload, dict):
        raise ProtocolError("invalid_payload", f"{kind}.payload must be an object")
    try:
        return parse(payload)
    except Invalid as invalid:
        raise ProtocolError("invalid_payload", f"{kind}: {invalid}") from None


def encode(kind: str, payload: Mapping[str, Any]) -> tuple[str, ...]:
    """One coordinator frame, compact (it may go to thousands of sockets)."""
    return (json.dumps({"type": kind, "payload": payload}, separators=(",", ":")),)


def _register(payload: Mapping[str, Any]) -> DeviceRegister:
    only(payload, {"name", "cpuCores", "memoryGB", "gpuAvailable", "gpuName"})
    return register(payload, payload)


def _heartbeat(payload: Mapping[str, Any]) -> Heartbeat:
    only(payload, {"load"})
    if "load" not in payload:
        return Heartbeat()
    return Heartbeat(load=number(payload, "load", 0.0, 1.0))


def _job_request(payload: Mapping[str, Any]) -> JobRequest:
    only(payload, {"slots"})
    return JobRequest(slots=integer(payload, "slots", 1, MAX_SLOTS_PER_REQUEST, default=1))


def _job_complete(payload: Mapping[str, Any]) -> JobComplete:
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


def _benchmark(payload: Mapping[str, Any]) -> BenchmarkResult:
    only(payload, {"opsPerSecond", "durationMs"})
    positive(payload, "durationMs", MAX_SAFE_INTEGER)  # how long it ran: checked, not kept
    return BenchmarkResult(ops_per_second=positive(payload, "opsPerSecond", 1e15))


_PARSERS: dict[str, Callable[[Mapping[str, Any]], DeviceMessage]] = {
    "DEVICE_REGISTER": _register,
    "HEARTBEAT": _heartbeat,
    "JOB_REQUEST": _job_request,
    "JOB_COMPLETE": _job_complete,
    "BENCHMARK_RESULT": _benchmark,
}

WIRE = Wire(NAME, parse_message, encode, device_view="STATUS")
