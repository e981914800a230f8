"""Studio's tests: a real Localbase (with Studio on a free port) on tests/localbase/studio/project,
and Debian's chromium driven by Playwright, as the dashboard's browser test does. Screenshots go to
test-output/studio-<page>.png."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from localbase.testing.plugin import localbase_fixture
from tests.chromium import chromium_or_skip
from tests.localbase.helpers import sql

PROJECT = Path(__file__).parent / "project"
ROOT = Path(__file__).resolve().parents[3]
SHOTS = ROOT / "test-output"
PASSWORD = "Studio-Test-Pass-1"

studio_server = localbase_fixture(PROJECT)


@pytest.fixture(scope="session")
def chromium():
    return chromium_or_skip("STUDIO'S BROWSER TESTS")


@pytest.fixture
async def browser(chromium):
    from playwright.async_api import async_playwright, expect
    expect.set_options(timeout=20_000)  # a loaded machine (CI, parallel runs) is slow, not wrong
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=chromium, headless=True)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def studio(browser, studio_server):
    """A page on the test server's Studio (loopback, no password)."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=studio_server.studio_url)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        await context.close()
    assert not errors, f"script errors on the page: {errors}"


async def shot(page, name: str) -> Path:
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"studio-{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000
    return path


@pytest.fixture
def make_user(studio_server):
    """A confirmed user with a password (through the Auth admin API, as an app's server would)."""
    from supabase import ClientOptions, create_client

    def _make(prefix: str = "user") -> tuple[str, str]:
        email = f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"
        admin = create_client(studio_server.url, studio_server.service_role_key,
                              options=ClientOptions(auto_refresh_token=False, persist_session=False))
        user = admin.auth.admin.create_user({"email": email, "password": PASSWORD, "email_confirm": True}).user
        return user.id, email

    return _make


def note(server, owner: str | None, title: str, body: str = "{}") -> int:
    return sql(server, "insert into public.notes (owner, title, body) values ($1, $2, $3::jsonb) returning id",
               uuid.UUID(owner) if owner else None, title, body)[0]["id"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)
