"""The WebSocket protocol between devices and their swarm coordinator.

Every frame is one JSON object ``{"type": ..., "payload": {...}}``. Device messages are parsed
here into frozen dataclasses before the coordinator acts on them; anything else raises
:class:`ProtocolError`, which the coordinator turns into an ``ERROR`` reply and a security log
entry. The limits are those of docs/swarm.md (and of the schemas the seed proposed but never
applied, see research section 3.1), with one deliberate difference: chunk ids are the UUIDs this
coordinator generates, so ``chunkId`` must be a UUID.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_MESSAGE_BYTES = 64 * 1024
"""Frames larger than this are refused before they are parsed."""

MAX_NAME_CHARS = 100
MAX_ERROR_CHARS = 500
MAX_GPU_NAME_CHARS = 100
MAX_SLOTS_PER_REQUEST = 64
MAX_DURATION_MS = 2**53 - 1
"""``durationMs`` need only be positive; this bound is the largest integer a JSON number
carries exactly (JavaScript's ``Number.MAX_SAFE_INTEGER``), and keeps Python's unbounded ints
convertible to float."""


class ProtocolError(Exception):
    """A frame that must not change any state. ``code`` is stable and machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class DeviceRegister:
    name: str
    cpu_cores: int
    memory_gb: float
    gpu_available: bool
    gpu_name: str | None = None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    load: float | None = None
    """The device's own CPU load in 0..1, shown on the dashboard; optional."""


@dataclass(frozen=True, slots=True)
class JobRequest:
    slots: int = 1
    """How many chunks the device can take now; the coordinator may grant fewer."""


@dataclass(frozen=True, slots=True)
class JobComplete:
    chunk_id: str
    duration_ms: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class BenchmarkResult:
    ops_per_second: float
    duration_ms: float


DeviceMessage = DeviceRegister | Heartbeat | JobRequest | JobComplete | BenchmarkResult


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def parse_message(raw: str | bytes) -> DeviceMessage:
    """Parses and validates one device frame, or raises :class:`ProtocolError`.

    The size is checked on the encoded bytes before decoding, so an oversized frame costs no
    parsing. ``NaN``/``Infinity`` (which Python's json accepts) and deep nesting are refused.
    """
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_MESSAGE_BYTES:
        raise ProtocolError(
            "too_large", f"message is {size} bytes; the limit is {MAX_MESSAGE_BYTES}"
        )
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        document = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError("invalid_json", "message is not valid UTF-8 JSON") from None
    if not isinstance(document, dict):
        raise ProtocolError("invalid_message", "message must be a JSON object")
    _only_keys(document, {"type", "payload"}, "message")
    kind = document.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("invalid_message", "message.type must be a string")
    parse = _PARSERS.get(kind)
    if parse is None:
        raise ProtocolError("unknown_type", f"unknown message type {kind[:40]!r}")
    payload = document.get("payload", {})
    if not isinstance(payload, dict):
        raise ProtocolError("invalid_payload", f"{kind}.payload must be an object")
    try:
        return parse(payload)
    except _Invalid as invalid:
        raise ProtocolError("invalid_payload", f"{kind}.{invalid}") from None


class _Invalid(Exception):
    pass


def _only_keys(obj: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise ProtocolError("invalid_message", f"{where} has unknown field {unknown[0][:40]!r}")


def _fields(payload: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(payload) - allowed)
    if unknown:
        raise _Invalid(f"{unknown[0][:40]}: unknown field")


def _int(
    payload: Mapping[str, Any], key: str, low: int, high: int, default: int | None = None
) -> int:
    value = payload.get(key, default)
    # bool is an int subclass in Python but not a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"{key}: must be an integer")
    if not low <= value <= high:
        raise _Invalid(f"{key}: must be between {low} and {high}")
    return value


def _number(payload: Mapping[str, Any], key: str, low: float, high: float) -> float:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid(f"{key}: must be a number")
    # Compared before any float(): JSON allows a 400-digit integer, which no float can hold.
    # NaN and infinity fail the comparison too.
    if not low <= value <= high:
        raise _Invalid(f"{key}: must be between {low:g} and {high:g}")
    return float(value)


def _positive(payload: Mapping[str, Any], key: str, high: float) -> float:
    value = _number(payload, key, 0.0, high)
    if value == 0:
        raise _Invalid(f"{key}: must be positive")
    return value


def _text(payload: Mapping[str, Any], key: str, max_chars: int) -> str:
    value = payload.get(key)
    if not isinstance(value, str):
        raise _Invalid(f"{key}: must be a string")
    if len(value) > max_chars:
        raise _Invalid(f"{key}: must be at most {max_chars} characters")
    return value


def _optional_text(payload: Mapping[str, Any], key: str, max_chars: int) -> str | None:
    return None if payload.get(key) is None else _text(payload, key, max_chars)


def _register(payload: Mapping[str, Any]) -> DeviceRegister:
    _fields(payload, {"name", "cpuCores", "memoryGB", "gpuAvailable", "gpuName"})
    gpu = payload.get("gpuAvailable")
    if not isinstance(gpu, bool):
        raise _Invalid("gpuAvailable: must be a boolean")
    return DeviceRegister(
        name=_text(payload, "name", MAX_NAME_CHARS),
        cpu_cores=_int(payload, "cpuCores", 1, 128),
        memory_gb=_number(payload, "memoryGB", 0.5, 1024),
        gpu_available=gpu,
        gpu_name=_optional_text(payload, "gpuName", MAX_GPU_NAME_CHARS),
    )


def _heartbeat(payload: Mapping[str, Any]) -> Heartbeat:
    _fields(payload, {"load"})
    if "load" not in payload:
        return Heartbeat()
    return Heartbeat(load=_number(payload, "load", 0.0, 1.0))


def _job_request(payload: Mapping[str, Any]) -> JobRequest:
    _fields(payload, {"slots"})
    return JobRequest(slots=_int(payload, "slots", 1, MAX_SLOTS_PER_REQUEST, default=1))


def _job_complete(payload: Mapping[str, Any]) -> JobComplete:
    _fields(payload, {"chunkId", "durationMs", "error"})
    chunk_id = _text(payload, "chunkId", 36)
    try:
        canonical = str(uuid.UUID(chunk_id))
    except ValueError:
        raise _Invalid("chunkId: must be a UUID") from None
    if canonical != chunk_id.lower():
        raise _Invalid("chunkId: must be a UUID")
    return JobComplete(
        chunk_id=canonical,
        duration_ms=_positive(payload, "durationMs", MAX_DURATION_MS),
        error=_optional_text(payload, "error", MAX_ERROR_CHARS),
    )


def _benchmark(payload: Mapping[str, Any]) -> BenchmarkResult:
    _fields(payload, {"opsPerSecond", "durationMs"})
    return BenchmarkResult(
        ops_per_second=_positive(payload, "opsPerSecond", 1e15),
        duration_ms=_positive(payload, "durationMs", MAX_DURATION_MS),
    )


_PARSERS = {
    "DEVICE_REGISTER": _register,
    "HEARTBEAT": _heartbeat,
    "JOB_REQUEST": _job_request,
    "JOB_COMPLETE": _job_complete,
    "BENCHMARK_RESULT": _benchmark,
}

DEVICE_MESSAGE_TYPES = tuple(_PARSERS)


def encode(kind: str, payload: Mapping[str, Any]) -> str:
    """One coordinator frame, compact (it may go to thousands of sockets)."""
    return json.dumps({"type": kind, "payload": payload}, separators=(",", ":"))
