"""``flaresuite swarm device``: simulated devices that join a swarm and run its jobs.

Each simulated device speaks the real protocol over its own WebSocket: it registers with
capabilities drawn from a seeded random generator, reports a benchmark, keeps a standing
``JOB_REQUEST`` for its free slots, "runs" each chunk by sleeping ``ops / speed`` seconds and
reports the kernel's true result (computed the cheap way, :mod:`flaresuite.swarm.kernels`),
drops chunks the coordinator takes back, sends heartbeats at the interval the coordinator
announced, and after a dropped connection comes back with its resume key, waiting as
:class:`flaresuite.retry.Backoff` says (exponential, full jitter).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from flaresuite.retry import Backoff
from flaresuite.swarm import kernels

RECONNECT = Backoff(base=0.5, cap=30.0)


@dataclass
class Tally:
    """What the simulated devices did, summed over all of them."""

    joined: int = 0
    completed: int = 0
    failed: int = 0
    reconnects: int = 0
    refused: int = 0
    """Handshakes the coordinator refused (a resume key it forgot, a spent invite...)."""
    never_joined: int = 0
    """Devices that gave up without ever joining: their invite was refused."""
    errors: list[str] = field(default_factory=list)
    """``ERROR`` replies from the coordinator (first 20 kept)."""

    def note_error(self, payload: dict[str, Any]) -> None:
        if len(self.errors) < 20:
            self.errors.append(f"{payload.get('code')}: {payload.get('message')}")


def websocket_url(base_url: str, swarm_id: str, **query: str) -> str:
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    encoded = "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
    return urlunsplit((scheme, parts.netloc, f"/swarm/{swarm_id}/ws", encoded, ""))


class SimulatedDevice:
    def __init__(
        self, device_id: str, rng: random.Random, tally: Tally, *, failure_rate: float
    ) -> None:
        self.device_id = device_id
        self.cores = rng.choice([1, 2, 4, 8, 16])
        self.gpu = rng.random() < 0.25
        self.ops_per_second = self.cores * 250_000 * rng.uniform(0.5, 1.5) * (4 if self.gpu else 1)
        self.rng = rng
        self.tally = tally
        self.failure_rate = failure_rate
        self.resume_key: str | None = None
        self.quota = 1
        self.running: dict[str, asyncio.Task[None]] = {}
        """Chunks being "run", by id."""

    async def run(self, base_url: str, swarm_id: str, token: str, stop: asyncio.Event) -> None:
        retry = 0
        while not stop.is_set():
            query = {"deviceId": self.device_id}
            query.update({"resumeKey": self.resume_key} if self.resume_key else {"token": token})
            try:
                async with connect(
                    websocket_url(base_url, swarm_id, **query), open_timeout=30
                ) as ws:
                    retry = 0
                    await self._session(ws, stop)
            except InvalidStatus as refused:
                self.tally.refused += 1
                if refused.response.status_code in (400, 403) or self.resume_key is None:
                    self.tally.never_joined += self.resume_key is None
                    return
                self.resume_key = None  # the device was removed; join afresh with the invite
            except (TimeoutError, ConnectionClosed, OSError):
                pass
            if stop.is_set():
                return
            self.tally.reconnects += 1
            retry += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RECONNECT.delay(retry, self.rng))

    async def _session(self, ws: ClientConnection, stop: asyncio.Event) -> None:
        heartbeat: asyncio.Task[None] | None = None
        stopper = asyncio.ensure_future(self._close_on(stop, ws))
        try:
            async for frame in ws:
                message = json.loads(frame)
                kind, payload = message["type"], message["payload"]
                if kind == "WELCOME":
                    self.tally.joined += payload["resumed"] is False
                    self.resume_key = payload.get("resumeKey", self.resume_key)
                    heartbeat = asyncio.ensure_future(
                        self._heartbeats(ws, payload["heartbeatSeconds"])
                    )
                    await self._register(ws)
                elif kind == "REGISTERED":
                    self.quota = payload["quota"]
                    await self._request(ws)
                elif kind == "CONTROL" and payload["enabled"] and payload["runState"] == "RUNNING":
                    await self._request(ws)
                elif kind == "JOB_ASSIGN":
                    for chunk in payload["chunks"]:
                        self.running[chunk["chunkId"]] = asyncio.ensure_future(
                            self._work(ws, chunk)
                        )
                elif kind == "JOB_CANCEL":
                    for chunk_id in payload["chunkIds"]:
                        task = self.running.pop(chunk_id, None)
                        if task is not None:
                            task.cancel()
                elif kind == "ERROR":
                    self.tally.note_error(payload)
        finally:
            stopper.cancel()
            if heartbeat is not None:
                heartbeat.cancel()
            for task in self.running.values():
                task.cancel()
            self.running.clear()

    async def _register(self, ws: ClientConnection) -> None:
        await self._send(
            ws,
            "DEVICE_REGISTER",
            {
                "name": f"sim {self.device_id}",
                "cpuCores": self.cores,
                "memoryGB": float(self.cores * 2),
                "gpuAvailable": self.gpu,
                **({"gpuName": "SimGPU"} if self.gpu else {}),
            },
        )
        await self._send(
            ws, "BENCHMARK_RESULT", {"opsPerSecond": self.ops_per_second, "durationMs": 50}
        )

    async def _close_on(self, stop: asyncio.Event, ws: ClientConnection) -> None:
        await stop.wait()
        await ws.close()

    async def _heartbeats(self, ws: ClientConnection, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self._send(ws, "HEARTBEAT", {"load": min(1.0, len(self.running) / self.quota)})

    async def _work(self, ws: ClientConnection, chunk: dict[str, Any]) -> None:
        started = time.monotonic()
        await asyncio.sleep(min(10.0, chunk["ops"] / self.ops_per_second))
        duration_ms = max(1, round((time.monotonic() - started) * 1000))
        payload: dict[str, Any] = {"chunkId": chunk["chunkId"], "durationMs": duration_ms}
        if self.rng.random() < self.failure_rate:
            payload["error"] = "simulated failure"
            self.tally.failed += 1
        else:
            payload["result"] = kernels.expected_result(chunk["kind"], chunk["seed"], chunk["ops"])
            self.tally.completed += 1
        self.running.pop(chunk["chunkId"], None)
        await self._send(ws, "JOB_COMPLETE", payload)
        await self._request(ws)

    async def _request(self, ws: ClientConnection) -> None:
        free = self.quota - len(self.running)
        if free > 0:
            await self._send(ws, "JOB_REQUEST", {"slots": min(free, 64)})

    async def _send(self, ws: ClientConnection, kind: str, payload: dict[str, Any]) -> None:
        await ws.send(json.dumps({"type": kind, "payload": payload}))


async def run_devices(
    base_url: str,
    swarm_id: str,
    token: str,
    count: int,
    *,
    stop: asyncio.Event | None = None,
    duration: float | None = None,
    failure_rate: float = 0.0,
    seed: int = 0,
    prefix: str = "sim",
) -> Tally:
    """Runs ``count`` devices until ``stop`` is set, ``duration`` seconds pass, or every one
    of them was refused."""
    stop = stop or asyncio.Event()
    tally = Tally()
    rng = random.Random(seed)
    devices = [
        SimulatedDevice(
            f"{prefix}-{i}", random.Random(rng.getrandbits(64)), tally, failure_rate=failure_rate
        )
        for i in range(count)
    ]
    tasks = [asyncio.ensure_future(d.run(base_url, swarm_id, token, stop)) for d in devices]
    try:
        everyone = asyncio.gather(*tasks)
        if duration is None:
            await everyone
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(everyone), duration)
            stop.set()
            await everyone
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
    return tally
