"""``flaresuite swarm serve``: the coordinator on CPython, for development and tests.

One process hosts any number of swarms (one :class:`Coordinator` each, created on first use,
state in memory) over the ``websockets`` library, which also answers the swarm's plain HTTP
routes from its ``process_request`` hook. It applies effects exactly as the Durable Object does
(:func:`flaresuite.swarm.host.apply`); where the Durable Object has an alarm, this server has an
asyncio timer per swarm. Differences from Cloudflare are listed in docs/swarm.md: state lives in
memory, and POST bodies are refused by ``websockets`` (owner routes take query parameters
anyway).
"""

from __future__ import annotations

import asyncio
import http
import weakref
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import (
    broadcast,
    serve,
)
from websockets.datastructures import Headers
from websockets.exceptions import (
    ConnectionClosed,
)
from websockets.http11 import Response

from flaresuite.http import HttpRequest
from flaresuite.ports import Clock, SystemClock
from flaresuite.swarm.coordinator import Admission, Coordinator
from flaresuite.swarm.effects import Effect
from flaresuite.swarm.host import apply, print_log
from flaresuite.swarm.storage import MemorySwarmStorage
from flaresuite.swarm.web import Reply, SwarmConfig, handle, not_a_swarm, swarm_of

MAX_FRAME_BYTES = 1 << 20
"""Transport limit; larger than the protocol's 64 KiB so oversized frames get the protocol's
error reply rather than a bare close."""


class HostedSwarm:
    """One swarm: its coordinator, storage, open connections and alarm timer.

    Every event runs under one lock, so effects apply in the order the coordinator produced
    them, as Durable Object input gates guarantee on Cloudflare.
    """

    def __init__(self, swarm_id: str, clock: Clock, log: Callable[[str], None]) -> None:
        self.coordinator = Coordinator(swarm_id)
        self.storage = MemorySwarmStorage()
        self.connections: dict[str, Any] = {}
        self._clock = clock
        self._log = log
        self.lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self._timer_at: float | None = None
        self._closing: set[asyncio.Task[None]] = set()

    async def run(self, event: Callable[[float], list[Effect]]) -> None:
        async with self.lock:
            await self.apply(event(self._clock.now()))

    async def apply(self, effects: list[Effect]) -> None:
        await apply(effects, sockets=self, storage=self.storage, log=self._log)
        self._follow_alarm()

    # -- host.Sockets -------------------------------------------------------------------------

    def send(self, socket_id: str, text: str) -> None:

        connection = self.connections.get(socket_id)
        if connection is not None:
            # broadcast() queues without awaiting, so one slow socket never stalls the swarm.
            broadcast([connection], text)

    def close(self, socket_id: str, code: int, reason: str) -> None:
        connection = self.connections.get(socket_id)
        if connection is not None:
            task = asyncio.ensure_future(connection.close(code, reason))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    # -- the alarm ----------------------------------------------------------------------------

    def _follow_alarm(self) -> None:
        at = self.storage.alarm_at
        if at == self._timer_at:
            return
        if self._timer is not None and self._timer is not asyncio.current_task():
            self._timer.cancel()
        self._timer, self._timer_at = None, at
        if at is not None:
            self._timer = asyncio.ensure_future(self._fire_at(at))

    async def _fire_at(self, at: float) -> None:
        await asyncio.sleep(max(0.0, at - self._clock.now()))
        async with self.lock:
            # A fired alarm is consumed, as in Durable Object storage.
            self.storage.alarm_at = self._timer_at = None
            self._timer = None
            await self.apply(self.coordinator.alarm(self._clock.now()))

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


class SwarmServer:
    def __init__(
        self,
        config: SwarmConfig,
        *,
        clock: Clock | None = None,
        log: Callable[[str], None] = print_log,
    ):
        self.config = config
        self.clock = clock or SystemClock()
        self.log = log
        self.swarms: dict[str, HostedSwarm] = {}
        # Weak: a handshake that fails after process_request must not leak its entry.
        self._admitted: weakref.WeakKeyDictionary[Any, tuple[HostedSwarm, Admission]] = (
            weakref.WeakKeyDictionary()
        )

    def swarm(self, swarm_id: str) -> HostedSwarm:
        if swarm_id not in self.swarms:
            self.swarms[swarm_id] = HostedSwarm(swarm_id, self.clock, self.log)
        return self.swarms[swarm_id]

    async def process_request(self, connection: Any, request: Any) -> Any:
        """Answers HTTP routes, refuses bad upgrades, or lets a good upgrade proceed."""
        host = request.headers.get("Host", "localhost")
        url = f"http://{host}{request.path}"
        located = swarm_of(url)
        if located is None:
            return _response(not_a_swarm())
        swarm = self.swarm(located[0])
        headers = {name.lower(): value for name, value in request.headers.raw_items()}
        core_request = HttpRequest(request.method, url, headers)
        async with swarm.lock:
            result = handle(swarm.coordinator, core_request, self.config, self.clock.now())
            await swarm.apply(result.effects)
        if isinstance(result, Reply):
            return _response(result.response)
        self._admitted[connection] = (swarm, result.admission)
        return None

    async def handler(self, connection: Any) -> None:

        swarm, admission = self._admitted.pop(connection)
        socket_id = admission.attachment.socket_id
        swarm.connections[socket_id] = connection
        try:
            await swarm.run(lambda now: swarm.coordinator.connect(admission, now))
            async for frame in connection:
                await swarm.run(
                    lambda now, frame=frame: swarm.coordinator.message(socket_id, frame, now)
                )
        except ConnectionClosed:
            pass
        finally:
            swarm.connections.pop(socket_id, None)
            await swarm.run(lambda now: swarm.coordinator.close(socket_id, now))

    async def start(self, host: str, port: int) -> Any:
        """Starts listening; returns the ``websockets`` server (``close()`` / ``wait_closed()``)."""

        return await serve(
            self.handler,
            host,
            port,
            process_request=self.process_request,
            max_size=MAX_FRAME_BYTES,
            server_header="flaresuite-swarm",
        )

    def stop(self) -> None:
        for swarm in self.swarms.values():
            swarm.stop()


def _response(response: Any) -> Any:

    headers = Headers({**response.headers, "content-length": str(len(response.body))})
    return Response(
        response.status, http.HTTPStatus(response.status).phrase, headers, response.body
    )


async def serve_forever(config: SwarmConfig, host: str, port: int) -> None:
    server = SwarmServer(config)
    listener = await server.start(host, port)
    bound = listener.sockets[0].getsockname()
    print(f"flaresuite swarm: serving on http://{bound[0]}:{bound[1]}/swarm/<swarm id>", flush=True)
    try:
        await listener.serve_forever()
    finally:
        server.stop()
