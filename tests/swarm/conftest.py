"""``served``: a real ``swarm serve`` on 127.0.0.1 (ephemeral port) with an owner HTTP client;
``browser``: headless Debian Chromium, for the modules marked with :data:`.browser.MARKS`."""

from __future__ import annotations

import pytest

from flaresuite.swarm.web import SwarmConfig

from .browser import chromium
from .live import ADMIN, serving


@pytest.fixture
async def served():
    logs: list[str] = []
    async with serving(SwarmConfig(admin_token=ADMIN), logs.append) as (server, owner, _):
        yield server, owner, logs


@pytest.fixture
async def browser():
    async with chromium() as launched:
        yield launched
