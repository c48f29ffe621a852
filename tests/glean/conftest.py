"""Fixtures for the Glean orchestrator's tests (helpers live in ``glean_fakes``)."""

from __future__ import annotations

import itertools
import random

import httpx
import pytest

from flaresuite.glean.app import GleanApp
from flaresuite.http import HttpFetch, HttpRequest, HttpResponse, TransportError
from flaresuite.stores.memory import MemoryKeyValue
from tests.glean.glean_fakes import FakeClock, Logs, World


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def world(httpserver, clock: FakeClock) -> World:
    return World(httpserver, clock)


@pytest.fixture
async def fetch() -> HttpFetch:
    """An :data:`HttpFetch` over real loopback HTTP."""
    async with httpx.AsyncClient() as client:

        async def send(request: HttpRequest) -> HttpResponse:
            try:
                response = await client.request(
                    request.method,
                    request.url,
                    headers=dict(request.headers),
                    content=request.body,
                    timeout=request.timeout,
                )
            except httpx.HTTPError as error:
                raise TransportError(f"{type(error).__name__}: {error}") from None
            return HttpResponse(
                response.status_code,
                {k.lower(): v for k, v in response.headers.items()},
                response.content,
            )

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
