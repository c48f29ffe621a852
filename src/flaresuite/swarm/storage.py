"""Where a swarm persists: the protocol its hosts implement, and an in-memory implementation.

The shape is Durable Object storage's (research section 2.4): string values under string keys,
batched writes, and the one alarm each object has. The Durable Object adapter,
``src/cfbindings/durable.py``, splits batches into the API's 128-key calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol


class SwarmStorage(Protocol):
    async def load(self) -> dict[str, str]:
        """Every stored key of the swarm."""
        ...

    async def write(self, put: Mapping[str, str], delete: Sequence[str]) -> None: ...

    async def get_alarm(self) -> float | None:
        """When the alarm will fire (seconds since the epoch), or ``None``."""
        ...

    async def set_alarm(self, at: float) -> None: ...

    async def delete_alarm(self) -> None: ...


class MemorySwarmStorage:
    """A dict and an alarm time; nothing fires the alarm (the host or test does)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.alarm_at: float | None = None
        self.writes = 0

    async def load(self) -> dict[str, str]:
        return dict(self.values)

    async def write(self, put: Mapping[str, str], delete: Sequence[str]) -> None:
        self.writes += 1
        self.values.update(put)
        for key in delete:
            self.values.pop(key, None)

    async def get_alarm(self) -> float | None:
        return self.alarm_at

    async def set_alarm(self, at: float) -> None:
        self.alarm_at = at

    async def delete_alarm(self) -> None:
        self.alarm_at = None
