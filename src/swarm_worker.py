"""Swarm coordinator Worker (``[env.swarm]`` in wrangler.toml): one Durable Object per swarm.

The Worker sends ``/swarm/<id>/...`` to ``SwarmCoordinator`` named ``<id>``. The object hosts
:class:`flaresuite.swarm.coordinator.Coordinator` on the WebSocket hibernation API: sockets are
accepted with ``ctx.acceptWebSocket`` and carry their attachment (a JSON string: structured
clone cannot copy a Pyodide dict, and a str needs no ``to_js``), so after an eviction the
constructor has nothing to rebuild from but storage and ``ctx.getWebSockets()``; that happens
on the first event. Everything that decides lives in the core; this module only adapts.
"""

import time

from js import WebSocketPair
from pyodide.ffi import JsException

from cfbindings import to_core_request, to_worker_response
from flaresuite.swarm.coordinator import Coordinator
from flaresuite.swarm.host import apply
from flaresuite.swarm.model import Attachment
from flaresuite.swarm.protocol import MAX_MESSAGE_BYTES
from flaresuite.swarm.web import Reply, SwarmConfig, handle, not_a_swarm, swarm_of
from workers import DurableObject, Response, WorkerEntrypoint

STORAGE_BATCH = 128
"""Durable Object storage takes at most 128 keys per put() or delete()."""


def batches(items):
    return [items[i : i + STORAGE_BATCH] for i in range(0, len(items), STORAGE_BATCH)]


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        located = swarm_of(str(request.url))
        if located is None:
            return to_worker_response(not_a_swarm())
        return await self.env.SWARM.getByName(located[0]).fetch(request)


class DurableStorage:
    """:class:`flaresuite.swarm.storage.SwarmStorage` over ``ctx.storage`` (SDK-wrapped, so
    dicts and lists convert both ways)."""

    def __init__(self, storage):
        self._storage = storage

    async def load(self):
        return {str(k): str(v) for k, v in dict(await self._storage.list()).items()}

    async def write(self, put, delete):
        # Every call is made before the first await: storage coalesces writes with no await
        # between them into one atomic batch, so a completion's chunk delete and its counters
        # land together or not at all.
        pending = [self._storage.put(dict(batch)) for batch in batches(list(put.items()))]
        pending += [self._storage.delete(batch) for batch in batches(list(delete))]
        for call in pending:
            await call

    async def get_alarm(self):
        at = await self._storage.getAlarm()
        return None if at is None else float(at) / 1000

    async def set_alarm(self, at):
        await self._storage.setAlarm(int(at * 1000))

    async def delete_alarm(self):
        await self._storage.deleteAlarm()


class HibernatedSockets:
    """:class:`flaresuite.swarm.host.Sockets` over accepted WebSockets, by socket id."""

    def __init__(self):
        self.by_id = {}

    def send(self, socket_id, text):
        ws = self.by_id.get(socket_id)
        if ws is not None:
            try:
                ws.send(text)
            except JsException:  # closing: its webSocketClose/Error takes the device offline
                pass

    def close(self, socket_id, code, reason):
        ws = self.by_id.pop(socket_id, None)
        if ws is not None:
            try:
                ws.close(code, reason)
            except JsException:  # already closed by its peer; the effects after it must still apply
                pass


def socket_id_of(ws):
    return Attachment.from_json(ws.deserializeAttachment()).socket_id


class SwarmCoordinator(DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        names = ("SWARM_ADMIN_TOKEN", "SWARM_ALLOWED_ORIGINS")
        self.config = SwarmConfig.from_env({name: getattr(env, name, None) for name in names})
        self.storage = DurableStorage(ctx.storage)
        self.sockets = HibernatedSockets()
        self.core = None

    async def _coordinator(self, swarm_id=None):
        if self.core is None:
            # A socket without an attachment (JS null) was never admitted: nothing to rebuild.
            live = [
                ws for ws in self.ctx.getWebSockets() if isinstance(ws.deserializeAttachment(), str)
            ]
            self.sockets.by_id = {socket_id_of(ws): ws for ws in live}
            self.core, effects = Coordinator.restore(
                swarm_id,
                await self.storage.load(),
                [ws.deserializeAttachment() for ws in live],
                time.time(),
                alarm_at=await self.storage.get_alarm(),
            )
            await self._apply(effects)
        return self.core

    async def _apply(self, effects):
        await apply(effects, sockets=self.sockets, storage=self.storage)

    async def fetch(self, request):
        located = swarm_of(str(request.url))
        core = await self._coordinator(located[0] if located else None)
        result = handle(
            core,
            await to_core_request(request, max_body_bytes=MAX_MESSAGE_BYTES),
            self.config,
            time.time(),
        )
        await self._apply(result.effects)
        if isinstance(result, Reply):
            return to_worker_response(result.response)
        client, server = WebSocketPair.new().object_values()
        self.ctx.acceptWebSocket(server)
        server.serializeAttachment(result.admission.attachment.to_json())
        self.sockets.by_id[result.admission.attachment.socket_id] = server
        await self._apply(core.connect(result.admission, time.time()))
        return Response(None, status=101, web_socket=client)

    async def webSocketMessage(self, ws, message):
        frame = message if isinstance(message, str) else message.to_bytes()
        core = await self._coordinator()
        await self._apply(core.message(socket_id_of(ws), frame, time.time()))

    async def webSocketClose(self, ws, code, reason, was_clean):
        # No ws.close() here: from compatibility date 2026-04-07 the runtime answers the
        # client's Close frame itself (web_socket_auto_reply_to_close).
        await self._closed(ws)

    async def webSocketError(self, ws, error):
        await self._closed(ws)

    async def _closed(self, ws):
        socket_id = socket_id_of(ws)
        core = await self._coordinator()
        self.sockets.by_id.pop(socket_id, None)
        await self._apply(core.close(socket_id, time.time()))

    async def alarm(self, alarm_info=None):
        core = await self._coordinator()
        await self._apply(core.alarm(time.time()))
