"""Helpers for tests that talk to a real ``swarm serve`` over HTTP."""

from __future__ import annotations

import httpx

ADMIN = "test-admin-token"
BOUND = 180.0
"""Seconds before a stuck test fails instead of hanging CI."""


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
