"""What the coordinator asks its host to do.

The coordinator never touches a socket, a clock or storage: each event returns a list of these,
in order, and the host (Durable Object, local server, test) applies them. Times are seconds
since the epoch; socket ids are the coordinator's own (they survive hibernation inside the
socket's attachment).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Send:
    socket_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Broadcast:
    """One serialised frame for many sockets: serialise once, send N times."""

    socket_ids: tuple[str, ...]
    text: str


@dataclass(frozen=True, slots=True)
class CloseSocket:
    socket_id: str
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class SetAlarm:
    at: float


@dataclass(frozen=True, slots=True)
class DeleteAlarm:
    pass


@dataclass(frozen=True, slots=True)
class Persist:
    """Storage writes of one event, to apply together: Durable Object storage coalesces
    writes made without an intervening await into one atomic batch."""

    put: Mapping[str, str] = field(default_factory=dict)
    delete: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Log:
    """One structured log record; hosts print it as one JSON line."""

    record: Mapping[str, Any]


Effect = Send | Broadcast | CloseSocket | SetAlarm | DeleteAlarm | Persist | Log
