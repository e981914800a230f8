"""The dashboard in a real headless browser (Debian's chromium driven by Playwright): sign in, then
an event recorded elsewhere appears on the page by itself, without a reload. Leaves a screenshot
in test-output/ (ignored by git) and prints its path."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time

import httpx
import pytest

from efficiency_hub.dashboard import APP
from efficiency_hub.models import INTERVENTION, Clearance
from efficiency_hub.tracker import Tracker
from efficiency_hub.workspaces import Workspaces
from localbase.testing.server import free_port
from tests.chromium import chromium_or_skip
from tests.hub.conftest import PASSWORD, ROOT

SCREENSHOT = ROOT / "test-output" / "dashboard-live.png"
EMAIL = "Email"


@pytest.fixture
def dashboard_url(hub_server, tmp_path):
    """`streamlit run` on the dashboard, configured as in production, against the test Localbase."""
    port = free_port()
    env = {**os.environ, "SUPABASE_URL": hub_server.url, "SUPABASE_ANON_KEY": hub_server.anon_key}
    for name in ("SUPABASE_SERVICE_ROLE_KEY", "SERVICE_ROLE_KEY", "API_URL", "ANON_KEY"):
        env.pop(name, None)
    log_path = tmp_path / "streamlit.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
                                 "--server.address", "127.0.0.1", "--server.headless", "true",
                                 "--browser.gatherUsageStats", "false"],
                                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


async def signed_in_page(browser, url: str, email: str, *, height: int):
    """A page of the dashboard, the sign-in form filled in and sent."""
    page = await browser.new_page(viewport={"width": 1600, "height": height})
    await page.goto(url)
    await page.get_by_label(EMAIL).fill(email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    return page


def bar_colours(png: bytes) -> tuple[int, int]:
    """(green, red): how many strongly green and strongly red pixels an image holds."""
    import numpy as np
    from PIL import Image

    r, g, b = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int).transpose(2, 0, 1)
    green = (g > 120) & (g - r > 60) & (g - b > 40)
    red = (r > 180) & (r - g > 90) & (r - b > 90)
    return int(green.sum()), int(red.sum())


@pytest.fixture
def chromium():
    return chromium_or_skip("THE DASHBOARD'S BROWSER TEST")


async def test_an_event_appears_live_without_a_reload(chromium, dashboard_url, make_person, as_user, admin,
                                                      service, capsys):
    from playwright.async_api import async_playwright, expect

    boss = await make_person(Clearance.indigo, name="Grace Boss")
    worker = await make_person(Clearance.orange, name="Linus Worker")
    await admin.assign_supervisor(boss.citizen_id, worker.citizen_id)
    worker_tracker = Tracker(await as_user(worker))
    for event_type, delta in (("task_completed", 8), ("report_filed", 4), ("missed_deadline", -25)):
        missed = await worker_tracker.record_event(worker.citizen_id, event_type, delta)
    await service.table("efficiency_events").insert(
        {"citizen_id": str(worker.citizen.id), "event_type": INTERVENTION, "efficiency_delta": 15,
         "triggered_by": missed.id, "details": {}}).execute()
    await worker_tracker.optimize(worker.citizen_id, completion_time=1200, automation_level=1.1)
    boss_tracker = Tracker(await as_user(boss))
    await boss_tracker.record_event(boss.citizen_id, "review_done", 3)
    struggling = await make_person(Clearance.red, name="Sam Struggling")
    await admin.assign_supervisor(boss.citizen_id, struggling.citizen_id)
    for _ in range(3):  # 75 -> 45; never below the monitor's threshold (-10), so no later monitor answers them
        await Tracker(await as_user(struggling)).record_event(struggling.citizen_id, "missed_deadline", -10)
    await Workspaces(await as_user(boss)).create("Ops room", Clearance.blue, "the boss's team")

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = await signed_in_page(browser, dashboard_url, boss.email, height=1600)
            await expect(page.get_by_role("heading", name="Live events")).to_be_visible(timeout=30_000)
            feed = page.locator(".st-key-event_feed")
            await expect(feed).to_contain_text("missed_deadline", timeout=15_000)
            await expect(feed).to_contain_text(INTERVENTION)
            await expect(page.get_by_text(boss.email)).to_be_visible()

            # a reload would lose this marker: it proves the page updated in place
            await page.evaluate("window.__still_the_same_page = true")
            recorded = await worker_tracker.record_event(worker.citizen_id, "report_filed", 2)
            await expect(feed).to_contain_text(f"#{recorded.id}", timeout=45_000)
            assert await page.evaluate("window.__still_the_same_page === true")

            await page.wait_for_timeout(1500)  # charts finish drawing
            SCREENSHOT.parent.mkdir(exist_ok=True)
            await page.screenshot(path=str(SCREENSHOT), full_page=True)

            # score bars by band: two citizens above 50 (green bars), one below (a red bar)
            column = page.get_by_test_id("stColumn").filter(has=page.get_by_role("heading", name="Citizens"))
            grid = column.get_by_test_id("stDataFrame")
            await expect(grid).to_be_visible()
            green, red = bar_colours(await grid.screenshot())
            assert green > 2 * red > 0, (green, red)
        finally:
            await browser.close()
    assert SCREENSHOT.stat().st_size > 10_000
    with capsys.disabled():
        print(f"\ndashboard screenshot: {SCREENSHOT}")


async def test_a_citizen_attaches_evidence_and_sees_the_preview(chromium, dashboard_url, make_person, as_user,
                                                                capsys, tmp_path):
    """Through the page: pick an own event, upload an image with the uploader, attach it; it is
    listed and its preview is loaded by the browser from a signed Storage URL."""
    import io

    from PIL import Image
    from playwright.async_api import async_playwright, expect

    worker = await make_person(Clearance.orange, name="Evidence Worker")
    event = await Tracker(await as_user(worker)).record_event(worker.citizen_id, "report_filed", 2)
    picture = tmp_path / "site photo.png"
    image = Image.new("RGB", (120, 80), (20, 120, 200))
    out = io.BytesIO()
    image.save(out, "PNG")
    picture.write_bytes(out.getvalue())
    shot = ROOT / "test-output" / "dashboard-evidence.png"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = await signed_in_page(browser, dashboard_url, worker.email, height=2200)
            await expect(page.get_by_role("heading", name="Evidence")).to_be_visible(timeout=30_000)
            chosen = page.get_by_role("combobox", name="Event")  # the newest event is chosen
            await expect(chosen).to_have_value(re.compile(f"^#{event.id} · "), timeout=45_000)
            await page.locator("[class*='st-key-evidence_file'] input[type=file]").set_input_files(str(picture))
            await page.get_by_role("button", name="Attach").click()
            await expect(page.get_by_text("attached site-photo.png")).to_be_visible(timeout=15_000)
            preview = page.locator("img[src*='/storage/v1/object/sign/efficiency-evidence/']")
            await expect(preview).to_have_count(1, timeout=15_000)
            assert await preview.evaluate("img => img.complete && img.naturalWidth") == 120
            shot.parent.mkdir(exist_ok=True)
            await page.screenshot(path=str(shot), full_page=True)
        finally:
            await browser.close()
    with capsys.disabled():
        print(f"\ndashboard evidence screenshot: {shot}")
