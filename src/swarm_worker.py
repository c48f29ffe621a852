"""Swarm coordinator Worker (``[env.swarm]``): ``/swarm/<id>/...`` and ``/ostrich/<id>/...``
go to the ``SwarmCoordinator`` Durable Object named ``<id>``, which hosts
:class:`flaresuite.swarm.host.SwarmHost` on the WebSocket hibernation API (docs/swarm.md)."""

import time
from typing import Any

from cfbindings import EnvVars, binding, to_core_request, to_worker_response
from cfbindings.durable import DurableStorage, HibernatedSockets, frame_of
from flaresuite.config import parsed, with_bindings
from flaresuite.http import HttpResponse
from flaresuite.swarm.config import SWARMS_BINDING, read_config
from flaresuite.swarm.host import SwarmHost
from flaresuite.swarm.messages import MAX_MESSAGE_BYTES
from flaresuite.swarm.web import route
from workers import DurableObject, Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request: Any) -> Any:
        swarms = binding(self.env, SWARMS_BINDING)
        config = with_bindings(parsed(read_config, EnvVars(self.env)), {SWARMS_BINDING: swarms})
        target = route(str(request.url), config)
        if isinstance(target, HttpResponse):
            return to_worker_response(target)
        return await swarms.getByName(target).fetch(request)


class SwarmCoordinator(DurableObject):
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.sockets = HibernatedSockets(ctx)
        config = parsed(read_config, EnvVars(env))
        self.host = SwarmHost(DurableStorage(ctx.storage), self.sockets, config)

    async def fetch(self, request: Any) -> Any:
        core_request = await to_core_request(request, max_body_bytes=MAX_MESSAGE_BYTES)
        result = await self.host.request(core_request, time.time())
        if isinstance(result, HttpResponse):
            return to_worker_response(result)
        client = self.sockets.accept(result.attachment)
        await self.host.connected(result, time.time())
        return Response(None, status=101, web_socket=client)

    async def webSocketMessage(self, ws: Any, message: Any) -> None:
        await self.host.message(self.sockets.id_of(ws), frame_of(message), time.time())

    async def webSocketClose(self, ws: Any, code: int, reason: str, was_clean: bool) -> None:
        # No ws.close() here: from compatibility date 2026-04-07 the runtime answers the
        # client's Close frame itself (web_socket_auto_reply_to_close).
        await self.host.closed(self.sockets.forget(ws), time.time())

    async def webSocketError(self, ws: Any, error: Any) -> None:
        await self.host.closed(self.sockets.forget(ws), time.time())

    async def alarm(self, alarm_info: Any = None) -> None:
        await self.host.alarm(time.time())
