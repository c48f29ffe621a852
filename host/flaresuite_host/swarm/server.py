"""``flaresuite swarm serve``: the coordinator on CPython, for development and tests.

One process hosts any number of swarms (one :class:`~flaresuite.swarm.host.SwarmHost` each,
created on first use, state in memory) over the ``websockets`` library, which also answers the
swarm's plain HTTP routes from its ``process_request`` hook. Events are applied exactly as the
Durable Object applies them; where the Durable Object has an alarm, this server has an asyncio
timer per swarm. Differences from Cloudflare are listed in docs/swarm.md.

Two things a Worker never has to do, this server does itself:

* check ``Host``: a page on any website can make a browser send requests to 127.0.0.1, and
  with DNS rebinding it can make them look same-origin, so a request must name this server
  (its bound address, ``localhost`` on loopback, or a name given with ``--allowed-host``);
* answer requests with a body, which the ``websockets`` handshake parser refuses without a
  word: :class:`_Connection` reads them itself and hands them to the same core.
"""

from __future__ import annotations

import asyncio
import http
import ipaddress
import weakref
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from flaresuite.http import HttpRequest, HttpResponse, error_response
from flaresuite.ports import Clock, SystemClock
from flaresuite.swarm.config import SwarmConfig
from flaresuite.swarm.coordinator import Admission, Coordinator
from flaresuite.swarm.host import SwarmHost, print_log
from flaresuite.swarm.messages import MAX_MESSAGE_BYTES
from flaresuite.swarm.storage import MemorySwarmStorage
from flaresuite.swarm.web import locate, not_a_swarm

MAX_FRAME_BYTES = 1 << 20
"""Transport limit; larger than the protocol's 64 KiB so oversized frames get the protocol's
error reply rather than a bare close."""
MAX_HEAD_BYTES = 16 * 1024
"""Request line and headers of a request with a body; more is refused (431)."""
WILDCARDS = {"0.0.0.0", "::", ""}


class HostedSwarm:
    """One swarm: its :class:`SwarmHost`, open connections and alarm timer.

    Every event runs under one lock, so effects apply in the order the coordinator produced
    them, as Durable Object input gates guarantee on Cloudflare.
    """

    def __init__(self, config: SwarmConfig, clock: Clock, log: Callable[[str], None]) -> None:
        self.storage = MemorySwarmStorage()
        self.host = SwarmHost(self.storage, self, config, log=log)
        self.connections: dict[str, ServerConnection] = {}
        self._clock = clock
        self.lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self._timer_at: float | None = None
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def coordinator(self) -> Coordinator:
        """The live coordinator; it exists from the swarm's first request on."""
        assert self.host.core is not None
        return self.host.core

    async def request(self, request: HttpRequest) -> HttpResponse | Admission:
        async with self.lock:
            result = await self.host.request(request, self._clock.now())
            self._follow_alarm()
            return result

    async def run(self, event: Callable[[SwarmHost, float], Any]) -> None:
        async with self.lock:
            await event(self.host, self._clock.now())
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

    def attachments(self) -> Iterable[str]:
        return ()  # memory is never lost here, so nothing is ever rebuilt

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
            await self.host.alarm(self._clock.now())
            self._follow_alarm()

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
        allowed_hosts: Iterable[str] = (),
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.log = log
        self.allowed_hosts = frozenset(name.lower() for name in allowed_hosts)
        self.swarms: dict[str, HostedSwarm] = {}
        self._bound: tuple[str, int] | None = None
        # Weak: a handshake that fails after process_request must not leak its entry.
        self._admitted: weakref.WeakKeyDictionary[
            ServerConnection, tuple[HostedSwarm, Admission]
        ] = weakref.WeakKeyDictionary()

    def swarm(self, swarm_id: str) -> HostedSwarm:
        if swarm_id not in self.swarms:
            self.swarms[swarm_id] = HostedSwarm(self.config, self.clock, self.log)
        return self.swarms[swarm_id]

    async def answer(self, request: HttpRequest) -> HttpResponse | tuple[HostedSwarm, Admission]:
        """What the core answers to one request, or the admission of an upgrade."""
        located = locate(request.url)
        if located is None:
            return not_a_swarm()
        swarm = self.swarm(located.swarm_id)
        result = await swarm.request(request)
        return result if isinstance(result, HttpResponse) else (swarm, result)

    def checked_url(self, hosts: list[str], target: str) -> str | HttpResponse:
        """The request's URL from its one ``Host``, or the 400 that refuses it."""
        if len(hosts) != 1:
            return error_response(400, "a request needs exactly one Host header")
        host = hosts[0].strip().lower()
        if not self._names_this_server(host):
            assert self._bound is not None
            return error_response(
                400,
                f"Host must name this server ({_authority(*self._bound)}); "
                "serve other names with --allowed-host",
            )
        return f"http://{host}{target}"

    def _names_this_server(self, host: str) -> bool:
        assert self._bound is not None
        bound_host, bound_port = self._bound
        try:
            parts = urlsplit("//" + host)
            port = parts.port or 80  # RFC 9110 section 7.2: no port is the scheme's default
        except ValueError:
            return False
        name = parts.hostname
        if name is None or parts.netloc != host or parts.username is not None:
            return False  # a path or userinfo is no host name
        if port != bound_port:
            return False
        if name in self.allowed_hosts:
            return True
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            # A name: only localhost, on an address this machine answers for itself.
            return name == "localhost" and (
                bound_host in WILDCARDS or ipaddress.ip_address(bound_host).is_loopback
            )
        # DNS rebinding needs a name; an address literal can only be one of ours, or it
        # would not have reached this socket. Still, it must be the one we listen on.
        return bound_host in WILDCARDS or address == ipaddress.ip_address(bound_host)

    async def process_request(self, connection: ServerConnection, request: Request) -> Any:
        """Answers HTTP routes, refuses bad upgrades, or lets a good upgrade proceed."""
        url = self.checked_url(request.headers.get_all("Host"), request.path)
        if isinstance(url, HttpResponse):
            return _response(url)
        headers = {name.lower(): value for name, value in request.headers.raw_items()}
        result = await self.answer(HttpRequest(request.method, url, headers))
        if isinstance(result, HttpResponse):
            return _response(result)
        self._admitted[connection] = result
        return None

    async def handler(self, connection: ServerConnection) -> None:
        swarm, admission = self._admitted.pop(connection)
        socket_id = admission.attachment.socket_id
        swarm.connections[socket_id] = connection
        try:
            await swarm.run(lambda host, now: host.connected(admission, now))
            async for frame in connection:
                await swarm.run(partial(_message, socket_id, frame))
        except ConnectionClosed:
            pass
        finally:
            swarm.connections.pop(socket_id, None)
            await swarm.run(lambda host, now: host.closed(socket_id, now))

    async def start(self, host: str, port: int) -> Any:
        """Starts listening; returns the ``websockets`` server (``close()`` / ``wait_closed()``)."""
        server = self

        class Connection(_Connection):
            swarm_server = server

        listener = await serve(
            self.handler,
            host,
            port,
            process_request=self.process_request,
            max_size=MAX_FRAME_BYTES,
            server_header="flaresuite-swarm",
            create_connection=Connection,
        )
        address = listener.sockets[0].getsockname()
        self._bound = (host if host in WILDCARDS else address[0], address[1])
        return listener

    def stop(self) -> None:
        for swarm in self.swarms.values():
            swarm.stop()


class _Connection(ServerConnection):
    """A connection that answers requests with a body itself.

    The ``websockets`` parser drops such a request without a response (a handshake has no
    body), so a POST with parameters in its body would hang. Until the head has been read,
    incoming bytes are held here; a head without a body goes on to ``websockets`` unchanged,
    and one with a body is read to the end (at most the protocol's frame limit) and answered
    by the core, like any other request, then the connection closes.
    """

    swarm_server: SwarmServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held = bytearray()
        self._reading: str = "head"
        """``head`` until the head is complete, then ``websocket`` (everything goes to
        ``websockets``) or ``body`` (bytes collect in ``_held`` for :meth:`_answer`)."""
        self._more = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def data_received(self, data: bytes) -> None:
        if self._reading == "websocket":
            super().data_received(data)
            return
        self._held += data
        if self._reading == "body":
            self._more.set()
            return
        end = self._held.find(b"\r\n\r\n")
        if end < 0:
            if len(self._held) > MAX_HEAD_BYTES:
                self._reading = "body"  # ignore the rest
                self._reply(error_response(431, "request head too large"))
            return
        parsed = _parse_head(bytes(self._held[:end]))
        length = _body_length(parsed[2]) if parsed else 0
        if parsed is None or length == 0:
            self._reading = "websocket"  # websockets answers (or refuses) the request
            held, self._held = bytes(self._held), bytearray()
            super().data_received(held)
            return
        self._reading = "body"
        del self._held[: end + 4]
        task = asyncio.ensure_future(self._answer(*parsed, length))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(
        self, method: str, target: str, headers: list[tuple[str, str]], length: int
    ) -> None:
        if length < 0:
            self._reply(error_response(400, "request bodies need one valid Content-Length"))
            return
        oversized = length > MAX_MESSAGE_BYTES
        while not oversized and len(self._held) < length:
            self._more.clear()
            await self._more.wait()
        server = self.swarm_server
        url = server.checked_url([value for name, value in headers if name == "host"], target)
        if isinstance(url, HttpResponse):
            self._reply(url)
            return
        body = b"" if oversized else bytes(self._held[:length])
        result = await server.answer(
            HttpRequest(method, url, dict(headers), body, oversized=oversized)
        )
        if isinstance(result, HttpResponse):
            self._reply(result)
        else:  # only a GET upgrades, and a GET with a body is still not a handshake
            self._reply(error_response(400, "a WebSocket handshake has no body"))

    def _reply(self, response: HttpResponse) -> None:
        head = f"HTTP/1.1 {response.status} {http.HTTPStatus(response.status).phrase}\r\n"
        headers = {**response.headers, "content-length": str(len(response.body))}
        headers["connection"] = "close"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.transport.write(head.encode("latin-1") + b"\r\n" + response.body)
        self.transport.close()


async def _message(socket_id: str, frame: str | bytes, host: SwarmHost, now: float) -> None:
    await host.message(socket_id, frame, now)


def _parse_head(head: bytes) -> tuple[str, str, list[tuple[str, str]]] | None:
    """``(method, target, [(lower-case name, value)])``, or ``None`` when it is not HTTP/1.x
    (``websockets`` then refuses it)."""
    try:
        request_line, *lines = head.decode("latin-1").split("\r\n")
        method, target, version = request_line.split(" ")
    except ValueError:
        return None
    if not version.startswith("HTTP/1."):
        return None
    headers = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon:
            return None
        headers.append((name.strip().lower(), value.strip()))
    return method, target, headers


def _body_length(headers: list[tuple[str, str]]) -> int:
    """Bytes of body the head announces; -1 for what cannot be read safely (chunked, or
    conflicting or malformed Content-Length, RFC 9112 section 6.3)."""
    if any(name == "transfer-encoding" for name, _ in headers):
        return -1
    lengths = {value for name, value in headers if name == "content-length"}
    if not lengths:
        return 0
    if len(lengths) > 1 or not all(v.isascii() and v.isdigit() for v in lengths):
        return -1
    (value,) = lengths
    return int(value) if len(value) <= 12 else MAX_MESSAGE_BYTES + 1


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _response(response: HttpResponse) -> Response:
    headers = Headers({**response.headers, "content-length": str(len(response.body))})
    return Response(
        response.status, http.HTTPStatus(response.status).phrase, headers, response.body
    )


async def serve_forever(
    config: SwarmConfig, host: str, port: int, *, allowed_hosts: Iterable[str] = ()
) -> None:
    server = SwarmServer(config, allowed_hosts=allowed_hosts)
    listener = await server.start(host, port)
    bound = listener.sockets[0].getsockname()
    print(
        f"flaresuite swarm: serving on http://{_authority(bound[0], bound[1])}/swarm/<swarm id>",
        flush=True,
    )
    try:
        await listener.serve_forever()
    finally:
        server.stop()
