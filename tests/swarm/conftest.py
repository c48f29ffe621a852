"""``served``: a real ``swarm serve`` on 127.0.0.1 (ephemeral port) with an owner HTTP client."""

from __future__ import annotations

import pytest

from flaresuite.swarm.web import SwarmConfig

from .live import ADMIN, serving


@pytest.fixture
async def served():
    logs: list[str] = []
    async with serving(SwarmConfig(admin_token=ADMIN), logs.append) as (server, owner, _):
        yield server, owner, logs
