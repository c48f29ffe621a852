"""A Durable Object's storage, alarm and hibernatable WebSockets as the swarm core's ports
(:class:`flaresuite.swarm.storage.SwarmStorage` and :class:`flaresuite.swarm.host.Sockets`).

APIs: https://developers.cloudflare.com/durable-objects/api/storage-api/ (KV-style calls on
``ctx.storage``, which the SDK wraps, so dicts and lists convert both ways) and
https://developers.cloudflare.com/durable-objects/best-practices/websockets/ (the hibernation
API: ``ctx.acceptWebSocket``, ``ctx.getWebSockets``, ``serializeAttachment``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from typing import Any

from js import WebSocketPair
from pyodide.ffi import JsException

from flaresuite.swarm.model import Attachment

STORAGE_BATCH = 128
"""Durable Object storage takes at most 128 keys per ``put()`` or ``delete()``."""


def batches(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[i : i + STORAGE_BATCH] for i in range(0, len(items), STORAGE_BATCH)]


class DurableStorage:
    """:class:`flaresuite.swarm.storage.SwarmStorage` over ``ctx.storage``."""

    def __init__(self, storage: Any) -> None:
        self._storage = storage

    async def load(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in dict(await self._storage.list()).items()}

    async def write(self, put: Mapping[str, str], delete: Sequence[str]) -> None:
        # Every call is made before the first await: storage coalesces writes with no await
        # between them into one atomic batch, so a completion's chunk delete and its counters
        # land together or not at all.
        pending = [self._storage.put(dict(batch)) for batch in batches(list(put.items()))]
        pending += [self._storage.delete(list(batch)) for batch in batches(list(delete))]
        for call in pending:
            await call

    async def get_alarm(self) -> float | None:
        at = await self._storage.getAlarm()
        return None if at is None else float(at) / 1000

    async def set_alarm(self, at: float) -> None:
        await self._storage.setAlarm(int(at * 1000))

    async def delete_alarm(self) -> None:
        await self._storage.deleteAlarm()


class HibernatedSockets:
    """:class:`flaresuite.swarm.host.Sockets` over the object's accepted WebSockets, by the
    socket id each carries in its attachment (a JSON string: structured clone cannot copy a
    Pyodide dict, and a str crosses to JS without ``to_js``)."""

    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx
        self._by_id: dict[str, Any] | None = None

    def accept(self, attachment: Attachment) -> Any:
        """Accepts a new socket carrying ``attachment``; returns the client end for the 101."""
        client, server = WebSocketPair.new().object_values()
        self._ctx.acceptWebSocket(server)
        server.serializeAttachment(attachment.to_json())
        self._live()[attachment.socket_id] = server
        return client

    def id_of(self, ws: Any) -> str:
        return Attachment.from_json(ws.deserializeAttachment()).socket_id

    def forget(self, ws: Any) -> str:
        """The id of a socket whose close or error arrived; it is no longer sent to."""
        socket_id = self.id_of(ws)
        self._live().pop(socket_id, None)
        return socket_id

    def attachments(self) -> Iterable[str]:
        return [ws.deserializeAttachment() for ws in self._live().values()]

    def send(self, socket_id: str, text: str) -> None:
        ws = self._live().get(socket_id)
        if ws is not None:
            # A socket that is closing refuses; its webSocketClose/Error takes the device offline.
            with suppress(JsException):
                ws.send(text)

    def close(self, socket_id: str, code: int, reason: str) -> None:
        ws = self._live().pop(socket_id, None)
        if ws is not None:
            # Already closed by its peer; the effects after this one must still apply.
            with suppress(JsException):
                ws.close(code, reason)

    def _live(self) -> dict[str, Any]:
        """The open sockets by id, read from the runtime once per wake-up. A socket without an
        attachment (JS null) was never admitted: there is nothing to rebuild from it."""
        if self._by_id is None:
            self._by_id = {
                self.id_of(ws): ws
                for ws in self._ctx.getWebSockets()
                if isinstance(ws.deserializeAttachment(), str)
            }
        return self._by_id


def frame_of(message: Any) -> str | bytes:
    """A ``webSocketMessage`` payload: a str, or an ArrayBuffer proxy."""
    return message if isinstance(message, str) else bytes(message.to_bytes())
