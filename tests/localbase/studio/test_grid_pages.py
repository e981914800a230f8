"""Keyset pages of the grid through REST, walked with the page links: sorted by a column with NULLs
and duplicates (ascending and descending), every row comes exactly once and in PostgreSQL's order,
forwards and back."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from tests.localbase.helpers import sql
from tests.localbase.studio.conftest import unique


def page_of(client: httpx.Client, url: str) -> tuple[list[int], dict[str, str]]:
    r = client.get(url)
    assert r.status_code == 200, r.text[:500]
    ids = [int(m) for m in re.findall(r'<tr data-key="\{&#34;id&#34;:(\d+)\}">', r.text)]
    links = {rel: html.unescape(href) for href, rel in re.findall(r'<a href="([^"]+)" rel="(next|prev)">', r.text)}
    return ids, links


@pytest.mark.parametrize("descending", [False, True])
def test_pages_walk_every_row_once_in_order(studio_server, make_user, descending):
    ann, _ = make_user("pages")
    bob, _ = make_user("pages")
    tag = unique("page")
    owners = [None, ann, bob, ann]
    for i in range(62):
        sql(studio_server, "insert into notes (owner, title) values ($1::uuid, $2)", owners[i % 4], f"{tag}-{i:02d}")
    order = "owner desc nulls first, id" if descending else "owner asc nulls last, id"
    expected = [r["id"] for r in sql(studio_server, f"select id from notes where title like $1 order by {order}",
                                     tag + "%")]
    first = f"/tables/public/notes?sort=owner&limit=25&fc=title&fo=like&fv={tag}*" + ("&desc=1" if descending else "")
    with httpx.Client(base_url=studio_server.studio_url) as client:
        pages, url = [], first
        while url:
            ids, links = page_of(client, url)
            pages.append(ids)
            url = links.get("next")
        assert [len(p) for p in pages] == [25, 25, 12]
        assert [i for p in pages for i in p] == expected
        back, url = [], page_of(client, page_of(client, page_of(client, first)[1]["next"])[1]["next"])[1]["prev"]
        while url:
            ids, links = page_of(client, url)
            back.append(ids)
            url = links.get("prev")
        assert back == [pages[1], pages[0]]
