"""The SQL editor in the browser: a user sees only their rows (RLS, as their API requests would),
anon none, the owner all; errors show their position; snippets are saved and reopened."""

from __future__ import annotations

from playwright.async_api import expect

from tests.localbase.studio.conftest import note, shot, unique


async def run(page, script: str, role: str, user: str = "") -> None:
    await page.locator("#sql-text").fill(script)
    await page.locator("#run-as").select_option(role)
    await page.locator("#run-as-user").fill(user)
    await page.locator("#run").click()


async def test_run_sql_as_a_user_sees_only_their_rows(studio, studio_server, make_user):
    ann_id, ann = make_user("ann")
    bob_id, _ = make_user("bob")
    tag = unique("sql")
    note(studio_server, ann_id, f"{tag}-ann-1")
    note(studio_server, ann_id, f"{tag}-ann-2")
    note(studio_server, bob_id, f"{tag}-bob")
    script = f"select title, auth.uid() as uid, current_user from notes where title like '{tag}%' order by title"

    await studio.goto("/sql")
    await run(studio, script, "user", ann)  # by email
    grid = studio.locator("#sql-grid")
    await expect(grid.locator("tbody tr")).to_have_count(2)
    await expect(grid.locator("tbody tr td:nth-child(1)")).to_have_text([f"{tag}-ann-1", f"{tag}-ann-2"])
    await expect(grid.locator("tbody tr td:nth-child(2)").first).to_have_text(ann_id)
    await expect(grid.locator("tbody tr td:nth-child(3)").first).to_have_text("authenticated")
    await expect(studio.locator("#sql-meta")).to_contain_text(f"as user {ann_id}")
    await expect(studio.locator("#sql-meta")).to_contain_text("2 row(s)")
    await expect(studio.locator("#sql-meta")).to_contain_text(" ms")
    await shot(studio, "sql")

    await run(studio, script, "anon")
    await expect(grid.locator("tbody")).to_contain_text("No rows.")
    await run(studio, script, "postgres")
    await expect(grid.locator("tbody tr")).to_have_count(3)
    await run(studio, script, "service_role")
    await expect(grid.locator("tbody tr")).to_have_count(3)


async def test_errors_show_where(studio):
    await studio.goto("/sql")
    await run(studio, "select 1;\nselect id\n  from notes whre id = 1;", "postgres")
    error = studio.locator("#sql-error")
    await expect(error).to_contain_text("42601")
    await expect(error).to_contain_text("syntax error at or near")
    await expect(error).to_contain_text("at line 3, column 19 (statement 2)")
    await run(studio, "select * from notes where owner = 'not-a-uuid'", "user", "nobody@example.com")
    await expect(error).to_contain_text("no user with email")


async def test_snippets_are_saved_and_reopened(studio, studio_server):
    name = unique("snippet")
    await studio.goto("/sql")
    await studio.locator("#sql-text").fill("select 42 as answer")
    await studio.locator('#save-snippet input[name="name"]').fill(name)
    await studio.locator("#save-snippet").get_by_role("button").click()
    await expect(studio.locator("h1")).to_contain_text(f"snippet: {name}")
    assert (studio_server.data_dir / "studio" / "snippets" / f"{name}.sql").read_text() == "select 42 as answer"
    await studio.goto("/sql")
    await studio.get_by_role("link", name=name).click()
    await expect(studio.locator("#sql-text")).to_have_value("select 42 as answer")
