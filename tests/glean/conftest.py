"""Fixtures for the Glean orchestrator's tests (helpers live in ``glean_fakes``)."""

from __future__ import annotations

import itertools
import random

import pytest

from flaresuite.glean.app import GleanApp
from flaresuite.http import HttpFetch
from flaresuite.stores.memory import MemoryKeyValue
from flaresuite_host.transport import HttpxFetch
from tests.glean.glean_fakes import FakeClock, Logs, World


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def world(httpserver, clock: FakeClock) -> World:
    return World(httpserver, clock)


@pytest.fixture
async def fetch() -> HttpFetch:
    """The CLI's :data:`HttpFetch` (httpx) over real loopback HTTP."""
    async with HttpxFetch() as send:
        yield send


@pytest.fixture
def make_app(clock: FakeClock, fetch: HttpFetch):
    """``make_app(env, kv=None)``: a GleanApp on the fake clock with ids ``id-1, id-2, ...``."""
    counter = itertools.count(1)

    def build(
        env: dict[str, str], kv: MemoryKeyValue | None = None, *, logs: Logs | None = None
    ) -> GleanApp:
        return GleanApp(
            env,
            MemoryKeyValue(clock) if kv is None else kv,
            fetch,
            clock=clock,
            sleep=clock.sleep,
            rng=random.Random(7),
            new_id=lambda: f"id-{next(counter)}",
            log=logs if logs is not None else Logs(),
        )

    return build
