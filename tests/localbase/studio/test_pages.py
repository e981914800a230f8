"""Policies, Logs, API docs and Storage in the browser."""

from __future__ import annotations

import httpx
from playwright.async_api import expect

from tests.localbase.studio.conftest import shot, unique


async def test_policies_in_plain_words_with_the_doctors_findings(studio):
    await studio.goto("/policies")
    notes = studio.locator('section[data-table="public.notes"]')
    await expect(notes.locator('.policy[data-policy="own notes"] .words')).to_have_text(
        "authenticated may read, insert, update and delete rows where owner = the caller's user id.")
    await expect(notes.locator(".finding")).to_have_count(0)
    teams = studio.locator('section[data-table="public.teams"]')
    await expect(teams.locator('.finding[data-finding="unindexed_policy_join"]')).to_contain_text(
        "reads public.members by (team_id, user_id)")
    finding = 'section[data-table="public.{}"] .finding[data-finding="{}"]'
    await expect(studio.locator(finding.format("open_table", "rls_disabled"))).to_contain_text(
        "row level security is disabled")
    await expect(studio.locator(finding.format("note_titles", "view_owner_rights"))).to_contain_text(
        "security_invoker")
    await shot(studio, "policies")


async def test_logs_are_redacted_filterable_and_live(studio, studio_server):
    missing = unique("no_such_table")
    httpx.get(f"{studio_server.url}/rest/v1/{missing}?apikey={studio_server.anon_key}")
    await studio.goto("/logs?kind=request")
    row = studio.locator("#log-rows tr", has_text=missing)
    await expect(row).to_contain_text("404")
    await expect(row).to_contain_text("apikey=[REDACTED]")
    assert studio_server.anon_key not in await studio.content()

    live = unique("live_table")
    await studio.evaluate("window.__same_page = true")
    httpx.get(f"{studio_server.url}/rest/v1/{live}", headers={"apikey": studio_server.anon_key})
    await expect(studio.locator("#log-rows tr", has_text=live)).to_contain_text("404", timeout=10_000)
    assert await studio.evaluate("window.__same_page === true")
    await shot(studio, "logs")

    await studio.goto("/logs?service=auth")
    await expect(studio.locator("#log-rows tr", has_text=missing)).to_have_count(0)
    await studio.goto(f"/logs?q={missing}")
    await expect(studio.locator("#log-rows tr", has_text=missing)).to_have_count(1)


async def test_server_errors_show_among_the_logs(studio, studio_server):
    tag = unique("boom")
    r = httpx.post(f"{studio_server.url}/rest/v1/rpc/fail_internally", json={"tag": tag},
                   headers={"apikey": studio_server.service_role_key,
                            "authorization": f"Bearer {studio_server.service_role_key}"})
    assert r.status_code == 500, r.text
    await studio.goto("/logs?kind=log&level=error")
    record = studio.locator("#log-rows tr.log-record", has_text=tag)
    await expect(record).to_contain_text(f"database error XX000: internal failure {tag}")
    await expect(record.locator("td").nth(1)).to_have_text("error")
    await expect(studio.locator("#log-rows tr.log-request")).to_have_count(0)  # records only
    await studio.goto(f"/logs?kind=request&q={tag}")  # the request itself: no tag in its path
    await expect(studio.locator("#log-rows tr.log-record")).to_have_count(0)
    await studio.goto("/logs?kind=request&q=fail_internally")
    await expect(studio.locator("#log-rows tr.log-request", has_text="fail_internally").first).to_contain_text("500")


async def test_api_docs_per_table_and_keys_only_on_reveal(studio, studio_server):
    await studio.goto("/api")
    keys = studio_server.keys
    assert keys["anon_key"] not in await studio.content()
    await studio.locator("#reveal-anon").get_by_role("button").click()
    await expect(studio.locator('#key-anon [data-revealed="anon"]')).to_have_text(keys["anon_key"])
    content = await studio.content()
    assert keys["service_role_key"] not in content and keys["secret_key"] not in content
    await studio.locator("#reveal-secret").get_by_role("button").click()
    await expect(studio.locator('#key-secret [data-revealed="secret"]')).to_have_text(keys["secret_key"])
    await studio.get_by_role("link", name="public.notes").click()
    await expect(studio.locator("#columns")).to_contain_text("what the note is about")
    await expect(studio.locator(".snippet-py").first).to_have_text('rows = supabase.table(\'notes\').select("*")'
                                                                   '.limit(10).execute().data')
    await expect(studio.locator(".snippet-js").first).to_contain_text('supabase.from("notes").select(\'*\')')
    await shot(studio, "api")
    await studio.goto("/api/rpc/public/note_count")
    await expect(studio.locator(".snippet-py")).to_contain_text("supabase.rpc('note_count', {}, get=True)")
