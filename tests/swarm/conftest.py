"""``served``: a real ``swarm serve`` on 127.0.0.1 (ephemeral port) with an owner HTTP client."""

from __future__ import annotations

import httpx
import pytest

from flaresuite.swarm.web import SwarmConfig
from flaresuite_host.swarm.server import SwarmServer

from .live import ADMIN


@pytest.fixture
async def served():
    logs: list[str] = []
    server = SwarmServer(SwarmConfig(admin_token=ADMIN), log=logs.append)
    listener = await server.start("127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers={"authorization": f"Bearer {ADMIN}"}
    ) as owner:
        yield server, owner, logs
    listener.close()
    await listener.wait_closed()
    server.stop()
