"""A Worker + Durable Object written the way the swarm coordinator will be: storage, alarms,
hibernatable WebSockets with tags and attachments, auto-response, RPC, and a Worker that
forwards to the object through its namespace binding."""

import asyncio
import itertools
import json
from urllib.parse import urlparse

from js import Date, Object, WebSocketPair, WebSocketRequestResponsePair
from pyodide.ffi import to_js

from workers import DurableObject, Response, WorkerEntrypoint

_generations = itertools.count(1)
"""Module state outlives instances, as in an isolate: it numbers each construction."""


def _js(value):
    return to_js(value, dict_converter=Object.fromEntries)


class Room(DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.generation = next(_generations)
        self.trace = []
        self.ctx.setWebSocketAutoResponse(WebSocketRequestResponsePair.new("ping", "pong"))

    async def fetch(self, request):
        # The Worker forwards /rooms/<name>/<action> unchanged; only the action matters here.
        action = urlparse(request.url).path.rsplit("/", 1)[-1]
        if request.headers.get("upgrade") == "websocket":
            client, server = WebSocketPair.new().object_values()
            member = request.headers.get("x-member", "anonymous")
            self.ctx.acceptWebSocket(server, _js(["room", f"member:{member}"]))
            server.serializeAttachment(_js({"member": member, "generation": self.generation}))
            return Response(None, status=101, web_socket=client)
        if action == "count":
            count = (await self.ctx.storage.get("count") or 0) + 1
            await self.ctx.storage.put("count", count)
            return Response(str(count))
        if action == "alarm":
            await self.ctx.storage.setAlarm(Date.now() + 60_000)
            return Response("set")
        if action == "alarm-now":
            await self.ctx.storage.setAlarm(Date.now())
            return Response("set")
        if action == "slow":
            # Yields to the event loop mid-event: a second event may only start after this ends.
            self.trace.append("start")
            await asyncio.sleep(0.01)
            self.trace.append("end")
            return Response(",".join(self.trace))
        if action in ("fail-alarms", "fail-and-reschedule"):
            await self.ctx.storage.put("fail_alarm", action)
            return Response("armed")
        if action == "bad-attachment":
            sockets = self.ctx.getWebSockets()
            try:
                sockets[0].serializeAttachment({"not": "converted"})
            except Exception as error:  # the DataCloneError workerd raises too
                return Response(type(error).__name__ + ": " + str(error), status=500)
            return Response("accepted a PyProxy", status=200)
        return Response("no such path", status=404)

    async def webSocketMessage(self, ws, message):
        attachment = ws.deserializeAttachment().to_py()
        if message == "broadcast":
            for socket in self.ctx.getWebSockets("room"):
                socket.send(json.dumps({"broadcast_from": attachment["member"]}))
            return
        if message == "bye":
            ws.close(4000, "bye")
            return
        tags = list(self.ctx.getTags(ws))
        ws.send(
            json.dumps(
                {
                    "echo": message,
                    "attachment": attachment,
                    "generation": self.generation,
                    "tags": tags,
                }
            )
        )

    async def webSocketClose(self, ws, code, reason, was_clean):
        closed = await self.ctx.storage.get("closed") or []
        member = ws.deserializeAttachment().to_py()["member"]
        closed.append([member, code, reason, was_clean])
        await self.ctx.storage.put("closed", closed)

    async def webSocketError(self, ws, error):
        await self.ctx.storage.put("error", str(error.message))

    async def alarm(self, alarm_info):
        await self.ctx.storage.put("alarms", (await self.ctx.storage.get("alarms") or 0) + 1)
        await self.ctx.storage.put("retry_count", alarm_info.retryCount)
        if failure := await self.ctx.storage.get("fail_alarm"):
            await self.ctx.storage.delete("fail_alarm")
            if failure == "fail-and-reschedule":
                await self.ctx.storage.setAlarm(Date.now() + 120_000)
            raise RuntimeError("alarm failed once")
        for socket in self.ctx.getWebSockets("room"):
            socket.send("tick")

    async def storage_ops(self):
        """Each storage call the lane implements, with what it returned."""
        storage = self.ctx.storage
        await storage.put({"a/1": 1, "a/2": 2, "b/1": 3})
        listed = {
            "prefix": await storage.list(prefix="a/"),
            "start": await storage.list(start="a/2"),
            "between": await storage.list(startAfter="a/1", end="b/1"),
            "reverse": await storage.list(reverse=True, limit=2),
        }
        await storage.put("obj", {"n": [1, "two"]})
        stored_dict = await storage.get("obj")
        found = await storage.get(["a/1", "missing"])
        deleted = await storage.delete(["a/1", "missing"])
        await storage.setAlarm(Date.now() + 60_000)
        alarm_set = await storage.getAlarm() is not None
        await storage.deleteAll()
        return {
            "listed": {name: list(keys) for name, keys in listed.items()},
            "stored_dict": stored_dict,
            "found": dict(found),
            "deleted": deleted,
            "alarm_set": alarm_set,
            "after_delete_all": [list(await storage.list()), await storage.getAlarm()],
        }

    async def snapshot(self):
        return {
            "count": await self.ctx.storage.get("count"),
            "generation": self.generation,
            "sockets": len(self.ctx.getWebSockets()),
        }


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        parts = urlparse(request.url).path.split("/", 3)
        if len(parts) == 3 and parts[1] == "together":
            # /together/<name>: two concurrent requests to one object, addressed by id.
            rooms = self.env.ROOMS
            stub = rooms.get(rooms.idFromName(parts[2]))
            url = f"http://room/rooms/{parts[2]}/slow"
            responses = await asyncio.gather(stub.fetch(url), stub.fetch(url))
            return Response(" ".join([await r.text() for r in responses]))
        if len(parts) == 3 and parts[1] == "snapshot":
            # /snapshot/<name>: an RPC method called from Python through the stub.
            snapshot = await self.env.ROOMS.getByName(parts[2]).snapshot()
            return Response(json.dumps(snapshot))
        # /rooms/<name>/<rest> goes to that room's object.
        if len(parts) < 3 or parts[1] != "rooms":
            return Response("not found", status=404)
        stub = self.env.ROOMS.getByName(parts[2])
        return await stub.fetch(request)
