"""Browsers join a swarm and run its work, in headless Debian Chromium against ``swarm serve``
(issue 14's acceptance): the owner unlocks the dashboard and creates a code, whose QR code
decodes to the join link; three pages join by the link (two of them tabs of one browser) and a
fourth by typing the code; a 300-chunk job completes though one page closes mid-job (its
chunks are handed to the others and none is lost); the owner's pause stops new assignments.
Leaves screenshots in dist/swarm-join-dashboard.png and dist/swarm-join-device.png.

Every wait is bounded by ``BOUND``; nothing asserts how fast anything happened. The pages'
Content-Security-Policy stays on, so the pages are tested as served (Playwright's locator
assertions need no ``eval``).
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from playwright.async_api import Browser, Page, async_playwright, expect

from flaresuite.swarm.coordinator import Coordinator

from .live import ADMIN, BOUND

CHROMIUM = Path("/usr/bin/chromium")
DIST = Path(__file__).resolve().parents[2] / "dist"
WAIT_MS = BOUND * 1000
CHUNKS = 300
OPS = 3_000_000
"""A MATH_STRESS chunk of 3 * 10^6 steps takes a browser about 0.1 s: the job lasts some
seconds on two cores, long enough to close a page and pause in the middle of it."""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install -y chromium)"
    ),
]


@pytest.fixture
async def browser():
    async with async_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"]
        )
        yield launched
        await launched.close()


async def until(condition, message: str) -> None:
    """Polls ``condition`` (the server's own state) until it holds."""
    async with asyncio.timeout(BOUND):
        while not condition():
            await asyncio.sleep(0.05)
    assert condition(), message


async def owner_dashboard(browser: Browser, base: str) -> Page:
    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    await page.goto(f"{base}/swarm/demo")
    await page.fill("#owner-token", ADMIN)
    await page.click("#unlock")
    await expect(page.locator("#new-code")).to_be_visible(timeout=WAIT_MS)
    await page.click("#new-code")
    await expect(page.locator("#invite")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#connection")).to_have_text("live", timeout=WAIT_MS)
    return page


async def joined(page: Page) -> str:
    await expect(page.locator("#state")).to_have_text("connected", timeout=WAIT_MS)
    await expect(page.locator("#device-id")).not_to_be_empty(timeout=WAIT_MS)
    return await page.locator("#device-id").inner_text()


async def test_browsers_join_by_link_and_by_code_and_finish_a_job_without_losing_a_chunk(
    served, browser
):
    server, owner, _ = served
    base = str(owner.base_url)
    dashboard = await owner_dashboard(browser, base)
    link = await dashboard.locator("#join-link").inner_text()
    typed = await dashboard.locator("#invite-code").inner_text()
    assert link == f"{base}/swarm/demo/join?invite={typed.replace('-', '')}"

    qr = Image.open(io.BytesIO(await dashboard.locator("#qr").screenshot()))
    assert [code.text for code in zxingcpp.read_barcodes(qr)] == [link]

    shared = await browser.new_context()  # two tabs of one browser: two devices
    other = await browser.new_context()
    by_link = [await shared.new_page(), await shared.new_page(), await other.new_page()]
    for page in by_link:
        await page.goto(link)
    by_code = await (await browser.new_context()).new_page()
    await by_code.goto(f"{base}/swarm/demo/join")
    await expect(by_code.locator("#join-form")).to_be_visible(timeout=WAIT_MS)
    await by_code.fill("#code", typed.lower())
    await by_code.click("#join")
    pages = [*by_link, by_code]
    ids = [await joined(page) for page in pages]
    assert len(set(ids)) == 4, "each tab is its own device"

    await by_code.fill("#name", "typed it in")
    await by_code.click("#save-name")
    await expect(dashboard.locator("#devices tbody tr.ONLINE")).to_have_count(4, timeout=WAIT_MS)
    await expect(dashboard.locator("#devices")).to_contain_text("typed it in", timeout=WAIT_MS)

    swarm: Coordinator = server.swarms["demo"].coordinator
    await until(lambda: all(swarm.devices[i].ops_per_second for i in ids), "benchmarks arrive")
    submitted = await owner.post(
        "/swarm/demo/jobs", params={"chunks": CHUNKS, "opsPerChunk": OPS, "kind": "MATH_STRESS"}
    )
    assert submitted.status_code == 201

    # Close one page while it holds work: its chunks go back to the queue.
    leaver = by_link[2]
    leaver_id = ids[2]
    await until(lambda: len(swarm.devices[leaver_id].active) > 0 and swarm.done_total >= 10, "")
    await leaver.close()
    await until(
        lambda: swarm.devices[leaver_id].status == "OFFLINE", "the closed page goes offline"
    )
    taken_back = {c for c in swarm.chunks if swarm.chunks[c].assigned_to is None}
    assert not swarm.devices[leaver_id].active

    # The owner pauses: held chunks finish, nothing new is handed out.
    await until(lambda: swarm.done_total >= 60, "work goes on without the closed page")
    await dashboard.click("#pause")
    await expect(dashboard.locator("#run-state")).to_have_text("PAUSED", timeout=WAIT_MS)
    await until(lambda: swarm.counts()["assigned"] == 0, "held chunks finish after the pause")
    paused_at = dict(swarm.counts())
    for page in pages[:2]:
        await expect(page.locator("#run-state")).to_have_text("PAUSED", timeout=WAIT_MS)
    await asyncio.sleep(1.0)  # several heartbeats' worth of pages asking for work
    assert swarm.counts() == paused_at, "no assignment while paused"
    assert paused_at["queued"] > 0, "the pause came mid-job"

    await dashboard.click("#start")
    await expect(dashboard.locator("#done")).to_have_text(str(CHUNKS), timeout=WAIT_MS)
    assert swarm.counts() == {"queued": 0, "assigned": 0, "done": CHUNKS, "failed": 0}
    assert not taken_back & set(swarm.chunks), "its chunks were finished by others"
    completed = {i: swarm.devices[i].completed for i in ids}
    assert sum(completed.values()) == CHUNKS, "every chunk counted exactly once"
    assert all(swarm.devices[i].rejected == 0 for i in ids)
    assert sum(swarm.devices[i].verified for i in ids) >= 3 * 3, "results were checked"
    await expect(by_code.locator("#done")).to_have_text(str(completed[ids[3]]), timeout=WAIT_MS)

    DIST.mkdir(exist_ok=True)
    await dashboard.screenshot(path=str(DIST / "swarm-join-dashboard.png"), full_page=True)
    await by_code.screenshot(path=str(DIST / "swarm-join-device.png"), full_page=True)


async def test_a_page_reloaded_resumes_its_device_and_the_owner_can_disable_it(served, browser):
    server, owner, _ = served
    base = str(owner.base_url)
    dashboard = await owner_dashboard(browser, base)
    link = await dashboard.locator("#join-link").inner_text()
    page = await (await browser.new_context()).new_page()
    await page.goto(link)
    device = await joined(page)
    await page.reload()
    assert await joined(page) == device
    swarm: Coordinator = server.swarms["demo"].coordinator
    assert list(swarm.devices) == [device], "the reload came back as the same device"

    row = dashboard.locator(f'#devices tbody tr[data-device-id="{device}"]')
    await expect(row).to_have_count(1, timeout=WAIT_MS)
    await row.locator("button.toggle").click()
    await expect(page.locator("#run-state")).to_have_text("DISABLED", timeout=WAIT_MS)
    await until(lambda: not swarm.devices[device].enabled, "the owner's switch reached the core")
    await owner.post("/swarm/demo/jobs", params={"chunks": 3, "opsPerChunk": 1000})
    await asyncio.sleep(0.5)
    assert swarm.counts()["queued"] == 3, "a disabled device gets no work"
    await dashboard.locator(f'#devices tbody tr[data-device-id="{device}"] button.toggle').click()
    await until(lambda: swarm.done_total == 3, "enabled again, it runs the job")
