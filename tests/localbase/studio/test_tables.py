"""Tables in the browser: the list (row counts, RLS, policies), a table's grid - JSON readable,
inline edit, filter, sort, insert, delete with confirmation, foreign keys as links - each change
checked in the database."""

from __future__ import annotations

from playwright.async_api import expect

from tests.localbase.helpers import sql
from tests.localbase.studio.conftest import note, shot, unique


def by_title(page, title: str, column: str = "title"):
    return page.locator(f'#grid tr:has(td[data-col="title"]:text-is("{title}")) td[data-col="{column}"]')


def cell(page, nid: int, column: str = "title"):
    """A grid cell, by the row's primary key (its text changes while it is edited)."""
    return page.locator(f"#grid tr[data-key='{{\"id\":{nid}}}'] td[data-col=\"{column}\"]")


async def test_browse_and_edit_a_row(studio, studio_server):
    title = unique("note")
    nid = note(studio_server, None, title, '{"tags": ["a", "b"], "n": 1}')
    await studio.goto("/tables")
    notes_row = studio.locator('#tables tr[data-table="public.notes"]')
    await expect(notes_row.locator("td").nth(3)).to_have_text("on")  # RLS
    await expect(notes_row.locator("td").nth(4)).to_have_text("1")  # its policy, a link to it
    await expect(studio.locator('#tables tr[data-table="public.open_table"] td').nth(4)).to_have_text("0")
    assert int((await notes_row.locator("td.num").first.inner_text()).split()[0].replace(",", "")) >= 1
    await expect(studio.locator('#tables tr[data-table="public.open_table"]')).to_contain_text("off")
    await expect(studio.locator('#tables tr[data-table="public.note_titles"]')).to_contain_text("owner")
    await shot(studio, "tables")

    await notes_row.get_by_role("link", name="notes").click()
    await expect(studio.locator("h1")).to_contain_text("public.notes")
    await studio.locator("#grid th a", has_text="id").click()  # sorted by id already: now descending, newest first
    await expect(studio.locator("#grid th a", has_text="id")).to_contain_text("▼")
    body = cell(studio, nid, "body")
    await expect(body.locator("summary")).to_have_text("{…} 2 keys")  # JSON folded ...
    await body.locator("summary").click()
    await expect(body.locator("pre")).to_contain_text('"tags": [')  # ... and readable unfolded

    await cell(studio, nid).dblclick()
    editor = cell(studio, nid).locator("input[name=value]")
    await editor.fill(title + "-edited")
    await editor.press("Enter")
    await expect(cell(studio, nid)).to_have_text(title + "-edited")
    await expect(by_title(studio, title + "-edited")).to_be_visible()
    assert sql(studio_server, "select title from public.notes where id = $1", nid)[0]["title"] == title + "-edited"
    await shot(studio, "grid")


async def test_filter_sort_insert_and_delete(studio, studio_server):
    prefix = unique("batch")
    for i in range(3):
        note(studio_server, None, f"{prefix}-{i}")
    await studio.goto("/tables/public/notes")
    await studio.locator('select[name="fc"]').last.select_option("title")
    await studio.locator('select[name="fo"]').last.select_option("like")
    await studio.locator('input[name="fv"]').last.fill(f"{prefix}*")
    await studio.get_by_role("button", name="Filter").click()
    titles = studio.locator('#grid td[data-col="title"]')
    await expect(titles).to_have_text([f"{prefix}-0", f"{prefix}-1", f"{prefix}-2"])  # by id
    await studio.locator("#grid th a", has_text="title").click()  # sort by title, ascending ...
    await studio.locator("#grid th a", has_text="title").click()  # ... then descending
    await expect(titles).to_have_text([f"{prefix}-2", f"{prefix}-1", f"{prefix}-0"])

    await studio.locator("#insert summary").click()
    await studio.locator('#insert input[name="col:title"]').fill(f"{prefix}-3")
    await studio.locator('#insert input[name="col:body"]').fill('{"inserted": true}')
    await studio.locator("#insert").get_by_role("button", name="Insert").click()
    await expect(titles).to_have_text([f"{prefix}-3", f"{prefix}-2", f"{prefix}-1", f"{prefix}-0"])
    assert sql(studio_server, "select body from public.notes where title = $1", f"{prefix}-3")[0]["body"] \
        == '{"inserted": true}'

    row = studio.locator(f'#grid tr:has(td[data-col="title"]:text-is("{prefix}-1"))')
    studio.once("dialog", lambda d: d.dismiss())  # changed her mind: nothing happens
    await row.get_by_role("button", name="Delete").click()
    await expect(row).to_be_visible()
    assert sql(studio_server, "select count(*) from public.notes where title = $1", f"{prefix}-1")[0]["count"] == 1
    studio.once("dialog", lambda d: d.accept())
    await row.get_by_role("button", name="Delete").click()
    await expect(row).to_have_count(0)
    assert sql(studio_server, "select count(*) from public.notes where title = $1", f"{prefix}-1")[0]["count"] == 0


async def test_a_bad_value_says_why_and_changes_nothing(studio, studio_server):
    title = unique("strict")
    nid = note(studio_server, None, title)
    await studio.goto(f"/tables/public/notes?fc=id&fo=eq&fv={nid}")
    await cell(studio, nid, "body").dblclick()
    await cell(studio, nid, "body").locator("textarea, input[name=value]").fill("{not json")
    await cell(studio, nid, "body").get_by_role("button", name="Save").click()
    await expect(studio.locator("#flash")).to_contain_text("not valid JSON")
    await cell(studio, nid, "created_at").dblclick()
    await cell(studio, nid, "created_at").locator("input[name=value]").fill("not a time")
    await cell(studio, nid, "created_at").get_by_role("button", name="Save").click()
    await expect(studio.locator("#flash")).to_contain_text("invalid input syntax for type timestamp")  # PostgREST's
    assert sql(studio_server, "select body::text from public.notes where id = $1", nid)[0]["body"] == "{}"


async def test_foreign_keys_are_links(studio, studio_server):
    team = int(sql(studio_server, "select coalesce(max(id), 0) + 1 as id from public.teams")[0]["id"])
    name = unique("team")
    sql(studio_server, "insert into public.teams (id, name) values ($1, $2)", team, name)
    sql(studio_server, "insert into public.members (team_id, role) values ($1, 'lead')", team)
    await studio.goto(f"/tables/public/members?fc=team_id&fo=eq&fv={team}")
    await studio.locator("#grid a.fk").first.click()
    await expect(studio.locator("h1")).to_contain_text("public.teams")
    await expect(studio.locator('#grid td[data-col="name"]')).to_have_text([name])


async def test_a_schema_not_exposed_is_listed_not_browsed(studio):
    await studio.goto("/tables?schema=auth")
    await expect(studio.locator(".note")).to_contain_text("not exposed through the API")
    await expect(studio.locator('#tables tr[data-table="auth.users"]')).to_be_visible()
    await studio.goto("/tables/auth/users")
    await expect(studio.locator(".error")).to_contain_text("not exposed")
