"""The dashboard in headless Chromium against ``swarm serve``: simulated devices join and the
page shows them and their jobs completing. Leaves a screenshot in dist/swarm-dashboard.png.

Needs Debian's ``chromium`` (``apt-get install -y chromium``; see :mod:`.browser`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from flaresuite.swarm.model import OBSERVER
from flaresuite_host.swarm.device import run_devices

from .browser import MARKS
from .live import BOUND, invite, state

SCREENSHOT = Path(__file__).resolve().parents[2] / "dist" / "swarm-dashboard.png"
WAIT_MS = BOUND * 1000

pytestmark = MARKS


@pytest.fixture
async def page(browser: Browser):
    return await browser.new_page(viewport={"width": 1400, "height": 900})


def _observers(server, swarm_id):
    return {s for s, a in server.swarms[swarm_id].coordinator.sockets.items() if a.role == OBSERVER}


async def test_the_dashboard_shows_devices_joining_and_jobs_completing(served, page):
    _, owner, _ = served
    token = await invite(owner, "demo")
    await page.goto(f"{owner.base_url}/swarm/demo?token={token}")
    await expect(page.locator("#connection")).to_have_text("live", timeout=WAIT_MS)

    chunks = 240
    await owner.post(
        "/swarm/demo/jobs", params={"chunks": chunks, "opsPerChunk": 400_000, "kind": "MAT_MUL"}
    )
    stop = asyncio.Event()
    devices = asyncio.ensure_future(
        run_devices(str(owner.base_url), "demo", token, 12, stop=stop, seed=3)
    )
    try:
        await expect(page.locator("#devices tbody tr.ONLINE")).to_have_count(12, timeout=WAIT_MS)
        await expect(page.locator("#done")).to_have_text(str(chunks), timeout=WAIT_MS)
        # One more snapshot so throughput and the log show the finished job.
        await expect(page.locator("#log")).to_contain_text("finished", timeout=WAIT_MS)
        names = await page.locator("#devices tbody tr td:nth-child(2)").all_inner_texts()
        assert sorted(names) == sorted(f"sim sim-{i}" for i in range(12))
        assert await page.locator("#queued").inner_text() == "0"
        assert await page.locator("#jobs tbody tr td:nth-child(6)").all_inner_texts() == [
            "finished"
        ]
        assert float(await page.locator("#throughput").inner_text()) > 0
        SCREENSHOT.parent.mkdir(exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT), full_page=True)
    finally:
        stop.set()
        await devices
    assert (await state(owner, "demo"))["queue"]["done"] == chunks


async def test_the_dashboard_reconnects_after_its_socket_drops(served, page):
    server, owner, _ = served
    token = await invite(owner, "demo")
    await page.goto(f"{owner.base_url}/swarm/demo?token={token}")
    await expect(page.locator("#connection")).to_have_text("live", timeout=WAIT_MS)
    [first] = _observers(server, "demo")
    server.swarms["demo"].close(first, 1012, "restarting")
    async with asyncio.timeout(BOUND):
        while not (_observers(server, "demo") - {first}):
            await asyncio.sleep(0.05)
    await expect(page.locator("#connection")).to_have_text("live", timeout=WAIT_MS)


async def test_without_a_token_the_page_says_how_to_open_it(served, page):
    _, owner, _ = served
    await page.goto(f"{owner.base_url}/swarm/demo")
    assert "?token=" in await page.locator("#connection").inner_text()
