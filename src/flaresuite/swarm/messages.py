"""What sockets tell the coordinator, whichever wire format carried it.

The coordinator speaks two wire formats (:mod:`.protocol`, its own, and :mod:`.ostrich`, the
Ostrich-Legs client's); each parses frames into the messages defined here, so one state
machine serves both. A frame that must change nothing raises :class:`ProtocolError`, which the
coordinator answers with an ``ERROR`` and a ``SECURITY`` log line.

The field checks shared by both formats live here too: they refuse booleans where numbers are
expected (``bool`` is an ``int`` in Python, not a number in JSON), compare before converting
(a 400-digit integer is valid JSON but fits no float), and never quote what they refuse: the
message goes into the swarm's security log, and a refused value may be anything a sender
pasted (:func:`flaresuite.redact.describe_rejected` says only its type and size).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flaresuite.errors import BadInput
from flaresuite.jsonbody import BadJson, parse_json
from flaresuite.redact import describe_rejected

MAX_MESSAGE_BYTES = 64 * 1024
"""Frames larger than this are refused before they are parsed."""
MAX_NAME_CHARS = 100
MAX_ERROR_CHARS = 500
MAX_GPU_NAME_CHARS = 100
MAX_SLOTS_PER_REQUEST = 64
MAX_SAFE_INTEGER = 2**53 - 1
"""The largest integer a JSON number carries exactly (JavaScript's ``Number.MAX_SAFE_INTEGER``);
it also keeps Python's unbounded ints convertible to float."""
MIN_MEMORY_GB = 0.25
"""``navigator.deviceMemory`` reports 0.25 on the smallest phones."""
MIN_THROTTLE, MAX_THROTTLE = 10, 100


class ProtocolError(BadInput):
    """A frame that must not change any state. ``code`` is stable and machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# -- device messages ----------------------------------------------------------------------------


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
    duration_ms: float | None
    """How long the chunk took; the Ostrich-Legs client leaves it out of failures."""
    error: str | None = None
    result: int | None = None
    """The kernel's result (:mod:`.kernels`); ``None`` from clients whose kernel cannot be
    checked (the Ostrich-Legs client runs one loop whatever the kind)."""


@dataclass(frozen=True, slots=True)
class BenchmarkResult:
    ops_per_second: float


@dataclass(frozen=True, slots=True)
class Activity:
    """A frame that only shows the peer is alive (the Ostrich-Legs client's own ``connect``)."""


DeviceMessage = DeviceRegister | Heartbeat | JobRequest | JobComplete | BenchmarkResult | Activity

# -- owner commands -------------------------------------------------------------------------------

RUNNING, PAUSED, STOPPED = "RUNNING", "PAUSED", "STOPPED"
RUN_STATES = (RUNNING, PAUSED, STOPPED)


@dataclass(frozen=True, slots=True)
class SetRunState:
    state: str


@dataclass(frozen=True, slots=True)
class SetThrottle:
    percent: int


@dataclass(frozen=True, slots=True)
class SetDeviceEnabled:
    device_id: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class RequestInvite:
    """A socket asks for a code to share (the Ostrich-Legs client's share dialog)."""


@dataclass(frozen=True, slots=True)
class SetInviteeCommands:
    """Which commands members may send over their sockets; the owner's alone to set."""

    allowed: frozenset[str]


Command = SetRunState | SetThrottle | SetDeviceEnabled | RequestInvite | SetInviteeCommands

INVITEE_COMMANDS = {
    SetRunState: "run",
    SetThrottle: "throttle",
    SetDeviceEnabled: "devices",
    RequestInvite: "invite",
}
"""The name under which the owner may grant each command to members (``inviteeCommands``)."""
INVITEE_COMMAND_NAMES = tuple(INVITEE_COMMANDS.values())

Message = DeviceMessage | Command


@dataclass(frozen=True, slots=True)
class Wire:
    """One wire format: how frames parse into messages and how notes become frames."""

    name: str
    parse: Callable[[str | bytes], Message]
    encode: Callable[[str, Mapping[str, Any]], tuple[str, ...]]
    """``(kind, payload)`` of a coordinator note to zero or more frames."""
    device_view: str
    """The state a device of this format receives every tick: ``STATUS`` or ``SNAPSHOT``."""


# -- parsing helpers ----------------------------------------------------------------------------


def decode(raw: str | bytes) -> Any:
    """The JSON value of one frame, through the one JSON guard (size and depth before
    parsing: a deeply nested frame used to kill Pyodide)."""
    try:
        return parse_json(raw, max_bytes=MAX_MESSAGE_BYTES)
    except BadJson as bad:
        code = "too_large" if bad.status == 413 else "invalid_json"
        raise ProtocolError(code, bad.message) from None


class Invalid(Exception):
    """A field is wrong; :class:`Envelope` prefixes the message with the message type."""


M = TypeVar("M", bound=Message)


@dataclass(frozen=True, slots=True)
class Envelope(Generic[M]):
    """How one wire format wraps a message: a JSON object of exactly two members, one naming
    the message type and one carrying its body, dispatched to the parser for that type."""

    frame: str
    """What the format calls a frame, for error messages: ``message`` or ``frame``."""
    kind: str
    """The member naming the type: ``type`` or ``event``."""
    body: str
    """The member carrying the body: ``payload`` or ``data``."""
    parsers: Mapping[str, Callable[[Any], M]]
    """Each type's parser, given the body (``{}`` when absent); it raises :class:`Invalid`."""

    def parse(self, raw: str | bytes) -> M:
        """Parses and validates one frame, or raises :class:`ProtocolError`."""
        document = decode(raw)
        if not isinstance(document, dict):
            raise ProtocolError("invalid_message", f"{self.frame} must be a JSON object")
        unknown = sorted(set(document) - {self.kind, self.body})
        if unknown:
            found = describe_rejected(unknown[0])
            raise ProtocolError("invalid_message", f"{self.frame} has an unknown field {found}")
        kind = document.get(self.kind)
        if not isinstance(kind, str):
            raise ProtocolError("invalid_message", f"{self.frame}.{self.kind} must be a string")
        parse = self.parsers.get(kind)
        if parse is None:
            found = describe_rejected(kind)
            raise ProtocolError("unknown_type", f"unknown {self.frame} {self.kind} {found}")
        try:
            return parse(document.get(self.body, {}))
        except Invalid as invalid:
            raise ProtocolError("invalid_payload", f"{kind}: {self.body} {invalid}") from None


def body_object(body: Any) -> Mapping[str, Any]:
    """The body of a message type whose body is a JSON object."""
    if not isinstance(body, dict):
        raise Invalid("must be an object")
    return body


def only(payload: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(payload) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise Invalid(f"unknown field {describe_rejected(unknown[0])} (fields: {known})")


def integer(
    payload: Mapping[str, Any], key: str, low: int, high: int, default: int | None = None
) -> int:
    value = payload.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{key} must be an integer")
    if not low <= value <= high:
        raise Invalid(f"{key} must be between {low} and {high}")
    return value


def number(payload: Mapping[str, Any], key: str, low: float, high: float) -> float:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(f"{key} must be a number")
    # Compared before any float(): NaN and infinity fail the comparison too.
    if not low <= value <= high:
        raise Invalid(f"{key} must be between {low:g} and {high:g}")
    return float(value)


def positive(payload: Mapping[str, Any], key: str, high: float) -> float:
    value = number(payload, key, 0.0, high)
    if value == 0:
        raise Invalid(f"{key} must be positive")
    return value


def boolean(payload: Mapping[str, Any], key: str) -> bool:
    value = payload.get(key)
    if not isinstance(value, bool):
        raise Invalid(f"{key} must be a boolean")
    return value


def text(payload: Mapping[str, Any], key: str, max_chars: int) -> str:
    value = payload.get(key)
    if not isinstance(value, str):
        raise Invalid(f"{key} must be a string")
    if len(value) > max_chars:
        raise Invalid(f"{key} must be at most {max_chars} characters")
    return value


def optional_text(payload: Mapping[str, Any], key: str, max_chars: int) -> str | None:
    return None if payload.get(key) is None else text(payload, key, max_chars)


def chunk_id(payload: Mapping[str, Any], key: str = "chunkId") -> str:
    """A chunk id as this coordinator issues them: a UUID, returned in canonical form."""
    value = text(payload, key, 36)
    try:
        canonical = str(uuid.UUID(value))
    except ValueError:
        raise Invalid(f"{key} must be a UUID") from None
    if canonical != value.lower():
        raise Invalid(f"{key} must be a UUID")
    return canonical


def register(payload: Mapping[str, Any], capabilities: Mapping[str, Any]) -> DeviceRegister:
    """A registration from its name (in ``payload``) and capabilities (in ``capabilities``,
    the same mapping for the native format and a nested one for Ostrich-Legs)."""
    return DeviceRegister(
        name=text(payload, "name", MAX_NAME_CHARS),
        cpu_cores=integer(capabilities, "cpuCores", 1, 128),
        memory_gb=number(capabilities, "memoryGB", MIN_MEMORY_GB, 1024),
        gpu_available=boolean(capabilities, "gpuAvailable"),
        gpu_name=optional_text(capabilities, "gpuName", MAX_GPU_NAME_CHARS),
    )
