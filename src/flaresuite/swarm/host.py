"""Hosting one swarm: the part every host shares.

A host (the Durable Object in ``src/swarm_worker.py``, ``flaresuite swarm serve``) supplies
its storage and its sockets, and feeds a :class:`SwarmHost` the events it receives, with the
time. The host keeps what only it can do: accepting a WebSocket, and firing the alarm.

Send failures are ignored here on purpose: a socket that cannot take a frame is closing, and
its close event, which the runtime delivers, is what takes the device offline.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Protocol

from flaresuite.errors import ConfigError
from flaresuite.http import HttpRequest, HttpResponse
from flaresuite.swarm.config import SwarmConfig
from flaresuite.swarm.coordinator import Admission, Coordinator
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
from flaresuite.swarm.web import Reply, handle, route


class Sockets(Protocol):
    def send(self, socket_id: str, text: str) -> None:
        """Queues ``text`` on the socket; does nothing if it is unknown or closed."""
        ...

    def close(self, socket_id: str, code: int, reason: str) -> None: ...

    def attachments(self) -> Iterable[str]:
        """The attachments (JSON) of the sockets still open, as the host rebuilds after a
        wake-up; a host that never loses its memory returns none."""
        ...


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


class SwarmHost:
    """One swarm's coordinator behind a host's storage and sockets.

    The coordinator is rebuilt from storage and the open sockets' attachments on the first
    event after a wake-up (:meth:`Coordinator.restore`), then fed every event; each event's
    effects are applied before the next event is taken, which the host guarantees (a Durable
    Object's input gate, the local server's lock).
    """

    def __init__(
        self,
        storage: SwarmStorage,
        sockets: Sockets,
        config: SwarmConfig | ConfigError,
        *,
        log: Callable[[str], None] = print_log,
    ) -> None:
        self.storage = storage
        self.sockets = sockets
        self.config = config
        self._log = log
        self.core: Coordinator | None = None

    async def request(self, request: HttpRequest, now: float) -> HttpResponse | Admission:
        """The answer to an HTTP request, or the admission of a WebSocket upgrade: the host
        then accepts the socket with the admission's attachment and calls :meth:`connected`."""
        swarm_id = route(request.url, self.config)
        if isinstance(swarm_id, HttpResponse):
            return swarm_id
        assert not isinstance(self.config, ConfigError)  # route answered 503 for it
        core = await self.coordinator(now, swarm_id)
        result = handle(core, request, self.config, now)
        await self.apply(result.effects)
        return result.response if isinstance(result, Reply) else result.admission

    async def connected(self, admission: Admission, now: float) -> None:
        await self.apply((await self.coordinator(now)).connect(admission, now))

    async def message(self, socket_id: str, frame: str | bytes, now: float) -> None:
        await self.apply((await self.coordinator(now)).message(socket_id, frame, now))

    async def closed(self, socket_id: str, now: float) -> None:
        await self.apply((await self.coordinator(now)).close(socket_id, now))

    async def alarm(self, now: float) -> None:
        await self.apply((await self.coordinator(now)).alarm(now))

    async def coordinator(self, now: float, swarm_id: str | None = None) -> Coordinator:
        """The live coordinator, rebuilt first if this is the first event since a wake-up.
        ``swarm_id`` is known from a request's URL; other events read it from storage."""
        if self.core is None:
            self.core, effects = Coordinator.restore(
                swarm_id,
                await self.storage.load(),
                list(self.sockets.attachments()),
                now,
                alarm_at=await self.storage.get_alarm(),
            )
            await self.apply(effects)
        return self.core

    async def apply(self, effects: Iterable[Effect]) -> None:
        await apply(effects, sockets=self.sockets, storage=self.storage, log=self._log)
