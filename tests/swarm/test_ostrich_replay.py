"""The unchanged Ostrich-Legs client's frame sequence, replayed over a real WebSocket against
``swarm serve`` on 127.0.0.1: URL, frames and timing as its client sends them (docs/swarm.md,
"Using the Ostrich-Legs client"). Every wait is bounded; nothing asserts how fast."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from flaresuite.swarm.config import SwarmConfig

from .live import ADMIN, BOUND, serving

CLIENT_ORIGIN = "http://localhost:5173"
"""The client's page is served from its own origin, not the coordinator's."""


@pytest.fixture
async def ostrich_server():
    config = SwarmConfig(ADMIN, frozenset({CLIENT_ORIGIN}))
    async with serving(config, lambda _: None) as (server, owner, port):
        yield server, owner, port


class Client:
    """The client's side of the conversation, frame for frame (research notes §3): it speaks
    only when its handlers would."""

    def __init__(self, ws: ClientConnection, persistent_id: str) -> None:
        self.ws = ws
        self.id = persistent_id
        self.seen: list[dict[str, Any]] = []
        self.pool_ready = False

    async def emit(self, event: str, data: Any) -> None:
        await self.ws.send(json.dumps({"event": event, "data": data}))

    async def next(self, event: str) -> Any:
        while True:
            message = json.loads(await self.ws.recv())
            self.seen.append(message)
            if message["event"] == "swarm:snapshot":
                # The compute pool exists once a numeric globalThrottle arrived; jobs that come
                # earlier are dropped by the real client.
                self.pool_ready |= isinstance(message["data"]["stats"]["globalThrottle"], int)
            if message["event"] == event:
                return message["data"]

    async def open_and_register(self) -> None:
        await self.emit("connect", {})  # from onopen
        assert await self.next("connect") == {"status": "connected"}
        await self.emit(
            "device:register",
            {
                "name": "Desktop Node",
                "capabilities": {"cpuCores": 4, "memoryGB": 8, "gpuAvailable": False},
            },
        )
        await self.emit("job:request_batch", {})

    async def work(self, jobs: int) -> int:
        """Runs batches until ``jobs`` are done, answering each job as the client does."""
        finished = 0
        while finished < jobs:
            batch = await self.next("job:batch")
            assert isinstance(batch, list) and self.pool_ready, "a snapshot came first"
            for job in batch:
                assert set(job) == {"id", "type", "complexity", "data"}
                await self.emit(
                    "job:complete",
                    {
                        "chunkId": job["id"],
                        "result": random.uniform(-1e6, 1e6),
                        "workerId": self.id,
                        "durationMs": random.uniform(0.5, 4.0),
                    },
                )
                await self.emit("job:request_batch", {})
                finished += 1
        return finished


def client_url(port: int, persistent_id: str, code: str) -> str:
    # As the client builds it: the base with /ws appended, values not URL-encoded.
    return f"ws://127.0.0.1:{port}/ostrich/lab/ws?persistentId={persistent_id}&token={code}"


async def new_code(owner: httpx.AsyncClient) -> str:
    response = await owner.post(
        "/swarm/lab/tokens", params={"multiUse": "true", "code": "true", "length": "6"}
    )
    assert response.status_code == 201
    return response.json()["token"]


async def test_the_clients_frame_sequence_completes_a_job(ostrich_server):
    _, owner, port = ostrich_server
    code = await new_code(owner)
    await owner.post("/swarm/lab/jobs", params={"chunks": 40, "opsPerChunk": 100_000})
    async with asyncio.timeout(BOUND):
        async with connect(client_url(port, "node-k3j9x2m1p", code), origin=CLIENT_ORIGIN) as ws:
            client = Client(ws, "node-k3j9x2m1p")
            await client.open_and_register()
            assert await client.work(40) == 40
            snapshot = await client.next("swarm:snapshot")
            while snapshot["stats"]["completedJobs"] < 40:
                snapshot = await client.next("swarm:snapshot")
            me = snapshot["devices"]["node-k3j9x2m1p"]
            assert me["status"] == "ONLINE" and me["totalJobsCompleted"] == 40
            assert snapshot["stats"]["pendingJobs"] == 0 and snapshot["stats"]["activeJobs"] == 0

            await client.emit("heartbeat", {"lastInteraction": 1_771_000_000_000})
            await client.emit("benchmark:result", {"score": 5400})
            await client.emit("cmd:set_run_state", "PAUSED")
            refusal = await client.next("sys:log")
            while refusal["level"] != "ERR":
                refusal = await client.next("sys:log")
            assert "forbidden" in refusal["message"] and isinstance(refusal["timestamp"], int)
    state = (await owner.get("/swarm/lab/state")).json()
    assert state["runState"] == "RUNNING", "members may not steer unless the owner allows it"
    assert state["queue"] == {"queued": 0, "assigned": 0, "done": 40, "failed": 0}


async def test_with_the_owners_leave_any_member_starts_and_pauses_the_swarm(ostrich_server):
    _, owner, port = ostrich_server
    code = await new_code(owner)
    allowed = await owner.post("/swarm/lab/control", params={"inviteeCommands": "run,throttle"})
    assert allowed.json()["inviteeCommands"] == ["run", "throttle"]
    await owner.post("/swarm/lab/control", params={"runState": "STOPPED"})
    await owner.post("/swarm/lab/jobs", params={"chunks": 5, "opsPerChunk": 1000})
    async with asyncio.timeout(BOUND):
        async with connect(client_url(port, "node-aaa111", code), origin=CLIENT_ORIGIN) as ws:
            client = Client(ws, "node-aaa111")
            await client.open_and_register()
            snapshot = await client.next("swarm:snapshot")
            assert snapshot["runState"] == "STOPPED"
            await client.emit("cmd:set_throttle", 35)
            await client.emit("cmd:set_run_state", "RUNNING")
            while (await client.next("swarm:snapshot"))["runState"] != "RUNNING":
                pass
            # The client asks for work when a snapshot shows RUNNING; its standing request
            # was remembered anyway.
            await client.emit("job:request_batch", {})
            assert await client.work(5) == 5
    state = (await owner.get("/swarm/lab/state")).json()
    assert state["throttle"] == 35 and state["queue"]["done"] == 5


async def test_a_reconnect_with_the_same_id_and_code_gets_connect_again(ostrich_server):
    server, owner, port = ostrich_server
    code = await new_code(owner)
    async with asyncio.timeout(BOUND):
        async with connect(client_url(port, "node-ccc333", code), origin=CLIENT_ORIGIN) as ws:
            await Client(ws, "node-ccc333").open_and_register()
        coordinator = server.swarms["lab"].coordinator
        while coordinator.devices["node-ccc333"].status == "ONLINE":
            await asyncio.sleep(0.02)
        async with connect(client_url(port, "node-ccc333", code), origin=CLIENT_ORIGIN) as ws:
            client = Client(ws, "node-ccc333")
            await client.open_and_register()
            snapshot = await client.next("swarm:snapshot")
            assert snapshot["devices"]["node-ccc333"]["status"] == "ONLINE"
    assert len(coordinator.devices) == 1


@pytest.mark.parametrize(
    ("path", "origin", "status"),
    [
        ("/ostrich/lab/ws?persistentId=node-x&token=", CLIENT_ORIGIN, 401),  # no host mode
        ("/ostrich/lab/ws?persistentId=node-x&token=ZZZZZZ", CLIENT_ORIGIN, 401),
        ("/ostrich/lab/ws?persistentId=node-x&token=CODE", "https://evil.example", 403),
        ("/ostrich/CODE/ws?persistentId=node-x&token=CODE", CLIENT_ORIGIN, 401),
    ],
)
async def test_a_code_leads_only_into_its_own_swarm(ostrich_server, path, origin, status):
    server, owner, port = ostrich_server
    code = await new_code(owner)
    url = f"ws://127.0.0.1:{port}" + path.replace("CODE", code)
    with pytest.raises(InvalidStatus) as refused:
        await connect(url, origin=origin)
    assert refused.value.response.status_code == status
    assert server.swarms["lab"].coordinator.devices == {}
