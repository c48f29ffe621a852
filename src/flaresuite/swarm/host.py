"""Applying the coordinator's effects: the part every host shares.

A host supplies its sockets (by the coordinator's socket ids), its storage and a log sink. Send
failures are ignored here on purpose: a socket that cannot take a frame is closing, and its
close event, which the runtime delivers, is what takes the device offline.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Protocol

from flaresuite.swarm.effects import (
    Broadcast,
    CloseSocket,
    DeleteAlarm,
    Effect,
    Log,
    Persist,
    Send,
    SetAlarm,
)
from flaresuite.swarm.storage import SwarmStorage


class Sockets(Protocol):
    def send(self, socket_id: str, text: str) -> None:
        """Queues ``text`` on the socket; does nothing if it is unknown or closed."""
        ...

    def close(self, socket_id: str, code: int, reason: str) -> None: ...


def print_log(record: str) -> None:
    print(record, flush=True)


async def apply(
    effects: Iterable[Effect],
    *,
    sockets: Sockets,
    storage: SwarmStorage,
    log: Callable[[str], None] = print_log,
) -> None:
    """Applies ``effects`` in order. Storage writes are awaited before later sends, so a device
    never hears about a state that a crash could still lose."""
    for effect in effects:
        if isinstance(effect, Send):
            sockets.send(effect.socket_id, effect.text)
        elif isinstance(effect, Broadcast):
            for socket_id in effect.socket_ids:
                sockets.send(socket_id, effect.text)
        elif isinstance(effect, CloseSocket):
            sockets.close(effect.socket_id, effect.code, effect.reason)
        elif isinstance(effect, Persist):
            await storage.write(effect.put, effect.delete)
        elif isinstance(effect, SetAlarm):
            await storage.set_alarm(effect.at)
        elif isinstance(effect, DeleteAlarm):
            await storage.delete_alarm()
        elif isinstance(effect, Log):
            log(json.dumps(effect.record, separators=(",", ":"), default=str))
