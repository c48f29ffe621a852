"""Helpers for tests that talk to a real ``swarm serve`` over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx

from flaresuite.swarm.config import SwarmConfig
from flaresuite_host.swarm.server import SwarmServer

ADMIN = "test-admin-token"
BOUND = 180.0
"""Seconds before a stuck test fails instead of hanging CI."""


@asynccontextmanager
async def serving(
    config: SwarmConfig, log: Callable[[str], None]
) -> AsyncIterator[tuple[SwarmServer, httpx.AsyncClient, int]]:
    """A real ``swarm serve`` on 127.0.0.1 (ephemeral port): the server, an owner HTTP client
    holding the admin token, and the port; stopped when the block ends."""
    server = SwarmServer(config, log=log)
    listener = await server.start("127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"authorization": f"Bearer {ADMIN}"}
        ) as owner:
            yield server, owner, port
    finally:
        listener.close()
        await listener.wait_closed()
        server.stop()


async def invite(owner: httpx.AsyncClient, swarm: str, *, multi_use: bool = True) -> str:
    response = await owner.post(
        f"/swarm/{swarm}/tokens", params={"multiUse": str(multi_use).lower()}
    )
    assert response.status_code == 201, response.text
    return response.json()["token"]


async def state(owner: httpx.AsyncClient, swarm: str) -> dict:
    response = await owner.get(f"/swarm/{swarm}/state")
    assert response.status_code == 200
    return response.json()
