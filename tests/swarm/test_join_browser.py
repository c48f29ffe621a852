"""Browsers join a swarm and run its work, in headless Debian Chromium against ``swarm serve``
(issue 14's acceptance): the owner unlocks the dashboard and creates a code, whose QR code
decodes to the join link; three pages join by the link (two of them tabs of one browser) and a
fourth by typing the code; a 300-chunk job completes though one page closes mid-job (the
chunks it held are each finished by another page, and none is lost); the owner's pause stops
new assignments. A page comes back as the same device after a reload, and after the server
drops its socket (through its backoff, with its resume key). Leaves screenshots in
dist/swarm-join-dashboard.png and dist/swarm-join-device.png.

Every wait is bounded by ``BOUND``; nothing asserts how fast anything happened. The pages'
Content-Security-Policy stays on, so the pages are tested as served (Playwright's locator
assertions need no ``eval``).
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import zxingcpp
from PIL import Image
from playwright.async_api import Browser, Page, expect

from flaresuite.swarm.coordinator import Coordinator
from flaresuite.swarm.storage import MemorySwarmStorage

from .browser import MARKS
from .live import ADMIN, BOUND, invite

DIST = Path(__file__).resolve().parents[2] / "dist"
WAIT_MS = BOUND * 1000
CHUNKS = 300
OPS = 3_000_000
"""A MATH_STRESS chunk of 3 * 10^6 steps takes a browser about 0.1 s: the job lasts some
seconds on two cores, long enough to close a page and pause in the middle of it."""
PAGE_EPOCH = 1_800_000_000_000
"""Where a page's clock starts (ms since the epoch), in tests that drive its timers."""

pytestmark = MARKS


async def until(condition, message: str) -> None:
    """Polls ``condition`` (the server's own state) until it holds."""
    async with asyncio.timeout(BOUND):
        while not condition():
            await asyncio.sleep(0.05)
    assert condition(), message


class ChunkLedger:
    """Who holds and who finished each chunk, read from the swarm's storage writes: one batch
    per event, holding each chunk's ``assigned_to`` as it stands after the event, and deleting
    the chunk when it is finished (docs/swarm.md, "Persistence and rebuild")."""

    def __init__(self, storage: MemorySwarmStorage, leaver: str) -> None:
        self.holder: dict[str, str | None] = {}
        self.finished_by: dict[str, str | None] = {}
        self.held_when_gone: set[str] | None = None
        """What ``leaver`` held just before the event that took it offline."""
        write = storage.write

        async def recording(put: Mapping[str, str], delete: Sequence[str]) -> None:
            held = self.held_by(leaver)
            for key, value in put.items():
                if key.startswith("chunk:"):
                    self.holder[key.removeprefix("chunk:")] = json.loads(value)["assigned_to"]
                elif key == f"device:{leaver}" and json.loads(value)["status"] == "OFFLINE":
                    self.held_when_gone = held
            for key in delete:
                if key.startswith("chunk:"):
                    chunk = key.removeprefix("chunk:")
                    self.finished_by[chunk] = self.holder.pop(chunk)
            await write(put, delete)

        storage.write = recording

    def held_by(self, device: str) -> set[str]:
        return {chunk for chunk, holder in self.holder.items() if holder == device}


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
    leaver, leaver_id = by_link[2], ids[2]
    ledger = ChunkLedger(server.swarms["demo"].storage, leaver_id)
    await until(lambda: all(swarm.devices[i].ops_per_second for i in ids), "benchmarks arrive")
    submitted = await owner.post(
        "/swarm/demo/jobs", params={"chunks": CHUNKS, "opsPerChunk": OPS, "kind": "MATH_STRESS"}
    )
    assert submitted.status_code == 201

    # Close one page while it holds work: its chunks go back to the queue.
    await until(
        lambda: ledger.held_by(leaver_id) and swarm.done_total >= 10, "the page to close holds work"
    )
    assert ledger.held_by(leaver_id) == swarm.devices[leaver_id].active
    await leaver.close()
    await until(
        lambda: swarm.devices[leaver_id].status == "OFFLINE", "the closed page goes offline"
    )
    taken_back = ledger.held_when_gone
    assert taken_back, "it held chunks when its socket closed"
    assert not swarm.devices[leaver_id].active
    completed_by_leaver = swarm.devices[leaver_id].completed

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
    assert len(ledger.finished_by) == CHUNKS and not ledger.holder, "every chunk finished"
    finishers = {ledger.finished_by[chunk] for chunk in taken_back}
    assert finishers and finishers <= set(ids) - {leaver_id}, "its chunks were finished by others"
    assert swarm.devices[leaver_id].completed == completed_by_leaver
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


async def test_a_page_whose_socket_the_server_drops_reconnects_as_the_same_device(served, browser):
    server, owner, _ = served
    single = await invite(owner, "demo", multi_use=False)  # spent by the join: only the key
    context = await browser.new_context()
    # The page's timers wait for the test, so its backoff can be watched, then run out.
    await context.clock.install(time=PAGE_EPOCH)
    await context.clock.pause_at(PAGE_EPOCH + 60_000)
    page = await context.new_page()
    await page.goto(f"{owner.base_url}/swarm/demo/join?invite={single}")
    device = await joined(page)
    swarm: Coordinator = server.swarms["demo"].coordinator
    await until(lambda: swarm.devices[device].registered, "the page registers")
    dropped = swarm.devices[device].socket_id
    assert dropped is not None

    server.swarms["demo"].close(dropped, 1012, "the server restarts")
    await expect(page.locator("#state")).to_have_text(
        re.compile(r"^reconnecting in 0\.[0-5] s$"), timeout=WAIT_MS
    )
    await until(lambda: swarm.devices[device].status == "OFFLINE", "the drop reaches the core")

    await page.clock.run_for(500)  # the first wait is under half a second of the page's time
    await expect(page.locator("#state")).to_have_text("connected", timeout=WAIT_MS)
    assert await page.locator("#device-id").inner_text() == device
    await expect(page.locator("#log")).to_contain_text("reconnected", timeout=WAIT_MS)
    await until(lambda: swarm.devices[device].status == "ONLINE", "it is online again")
    assert list(swarm.devices) == [device], "the same device, not a new one"
    assert swarm.devices[device].socket_id not in (None, dropped)
