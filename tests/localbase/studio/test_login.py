"""A Studio reachable from the network: refused without a password; with one, a login page (rate
limited), a session cookie (HttpOnly, SameSite=Strict), and every mutation refused without its CSRF
token or from another origin. A loopback Studio answers no foreign Host (DNS rebinding)."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx
import pytest
from playwright.async_api import expect

from localbase.studio.config import hash_password
from localbase.testing.server import LocalbaseProcess, free_port
from tests.localbase.helpers import sql
from tests.localbase.studio.conftest import PROJECT, shot, unique

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def exposed():
    server = LocalbaseProcess(PROJECT, extra_args=["--studio-host", "0.0.0.0"],
                              env={"LOCALBASE_STUDIO_PASSWORD_HASH": hash_password(PASSWORD),
                                   "LOCALBASE_STORAGE_ENABLED": "false"})  # and its Storage page says so
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


def test_a_network_studio_without_a_password_refuses_to_start(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "localbase", "start", "--workdir", str(PROJECT), "--data-dir", str(tmp_path / "d"),
         "--port", str(free_port()), "--db-port", str(free_port()), "--studio-host", "0.0.0.0"],
        capture_output=True, text=True, timeout=60, check=False, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1",
                                                                     "COLUMNS": "200"})
    said = " ".join(result.stderr.split())
    assert result.returncode == 1
    assert "without a password" in said and "[studio] password_hash" in said
    assert "localbase studio hash-password" in said
    assert not (tmp_path / "d" / "pgdata").exists()  # refused before PostgreSQL started


async def test_log_in_and_csrf_refusal(browser, exposed):
    context = await browser.new_context(base_url=exposed.studio_url, viewport={"width": 1200, "height": 800})
    page = await context.new_page()
    await page.goto("/tables/public/notes")
    await expect(page).to_have_url(re.compile(r"/login\?next=%2Ftables%2Fpublic%2Fnotes"))
    await shot(page, "login")
    await page.get_by_label("Password").fill("wrong password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#login-error")).to_have_text("Wrong password.")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("h1")).to_contain_text("public.notes")  # where it was going
    [cookie] = [c for c in await context.cookies() if c["name"].startswith("localbase_studio_")]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]  # plain http here

    title = unique("csrf")
    send = """async ([title, token]) => {
        const headers = token ? {"X-CSRF-Token": token} : {};
        const r = await fetch("/tables/public/notes/insert", {method: "POST", headers,
            body: new URLSearchParams({"col:title": title})});
        return [r.status, await r.text()];
    }"""
    status, text = await page.evaluate(send, [title, ""])
    assert (status, text) == (403, "CSRF token missing or wrong: reload the page")
    status, _ = await page.evaluate(send, [title, "forged-token"])
    assert status == 403
    assert sql(exposed, "select count(*) from notes where title = $1", title)[0]["count"] == 0
    token = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    status, _ = await page.evaluate(send, [title, token])
    assert status == 200
    assert sql(exposed, "select count(*) from notes where title = $1", title)[0]["count"] == 1

    # the right cookie and token from another origin: refused all the same
    jar = {cookie["name"]: cookie["value"]}
    r = httpx.post(f"{exposed.studio_url}/tables/public/notes/insert", cookies=jar, data={"col:title": title},
                   headers={"x-csrf-token": token, "origin": "http://attacker.example"})
    assert r.status_code == 403 and "cross-origin" in r.text

    await page.goto("/storage")
    await expect(page.locator("#storage-disabled")).to_contain_text("Storage is not enabled")

    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(re.compile(r"/login"))
    await page.goto("/sql")
    await expect(page).to_have_url(re.compile(r"/login"))
    await context.close()


def test_login_is_rate_limited(exposed):
    with httpx.Client(base_url=exposed.studio_url) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        headers = {"origin": exposed.studio_url}
        for _ in range(5):
            r = client.post("/login", data={"csrf_token": token, "password": "nope", "next": "/"}, headers=headers)
            assert r.status_code == 401
        r = client.post("/login", data={"csrf_token": token, "password": PASSWORD, "next": "/"}, headers=headers)
        assert r.status_code == 429 and "Too many wrong passwords" in r.text
        r = client.post("/sql/run", data={"csrf_token": token, "sql": "select 1"}, headers=headers)
        assert r.status_code == 401  # never logged in


def test_a_loopback_studio_answers_no_foreign_host(studio_server):
    r = httpx.get(f"{studio_server.studio_url}/tables", headers={"host": "rebound.attacker.example"})
    assert r.status_code == 421
    r = httpx.get(f"{studio_server.studio_url}/tables", headers={"host": f"localhost:{studio_server.studio_port}"})
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["cache-control"] == "no-store"
