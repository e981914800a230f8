"""PATCH/DELETE with `limit` (PostgREST 12's limited update/delete): never ignored. Without an
explicit order it is refused (PGRST109) and nothing changes; with one, only the first rows in that
order change; an order that is not unique and would change more rows than the limit is rolled back
(PGRST110). supabase-py has no limit on update/delete (supabase-js does: tests/js), so raw HTTP."""

from __future__ import annotations

import uuid

import httpx
import pytest


@pytest.fixture
def rest(localbase_server):
    key = localbase_server.service_role_key
    with httpx.Client(base_url=f"{localbase_server.url}/rest/v1", timeout=10,
                      headers={"apikey": key, "Authorization": f"Bearer {key}"}) as client:
        yield client


@pytest.fixture
def batch(supabase_service):
    """Five items sharing one name, sku <name>-1 .. <name>-5, qty 1..5."""
    name = "lim-" + uuid.uuid4().hex[:8]
    supabase_service.table("items").insert([{"sku": f"{name}-{n}", "name": name, "qty": n} for n in range(1, 6)]) \
        .execute()
    return name


def quantities(supabase_service, name: str) -> list[int]:
    rows = supabase_service.table("items").select("qty").eq("name", name).order("sku").execute().data
    return [row["qty"] for row in rows]


def test_a_limited_patch_without_order_changes_nothing_rather_than_every_row(rest, batch, supabase_service):
    answer = rest.patch("/items", params={"name": f"eq.{batch}", "limit": "1"}, json={"qty": 0})
    assert answer.status_code == 400
    assert answer.json() == {"code": "PGRST109", "message": "A 'limit' was applied without an explicit 'order'",
                             "details": None, "hint": "Apply an 'order' using unique column(s)"}
    assert rest.delete("/items", params={"name": f"eq.{batch}", "offset": "1"}).json()["code"] == "PGRST109"
    assert quantities(supabase_service, batch) == [1, 2, 3, 4, 5]


def test_a_limited_patch_or_delete_changes_only_the_first_rows_in_order(rest, batch, supabase_service):
    changed = rest.patch("/items", params={"name": f"eq.{batch}", "limit": "2", "order": "sku.desc",
                                           "select": "sku"},
                         json={"qty": 0}, headers={"Prefer": "return=representation"})
    assert changed.status_code == 200, changed.text
    assert sorted(row["sku"] for row in changed.json()) == [f"{batch}-4", f"{batch}-5"]
    assert quantities(supabase_service, batch) == [1, 2, 3, 0, 0]
    gone = rest.delete("/items", params={"name": f"eq.{batch}", "limit": "1", "offset": "1", "order": "sku"})
    assert gone.status_code == 204 and gone.headers["content-range"] == "0-0/*"
    assert quantities(supabase_service, batch) == [1, 3, 0, 0]  # the second by sku went


def test_a_limited_change_on_a_non_unique_order_is_rolled_back(rest, batch, supabase_service):
    answer = rest.delete("/items", params={"name": f"eq.{batch}", "limit": "1", "order": "name"})
    assert answer.status_code == 400
    assert answer.json()["code"] == "PGRST110"
    assert answer.json()["details"] == "Results contain 5 rows changed but the maximum number allowed is 1"
    assert quantities(supabase_service, batch) == [1, 2, 3, 4, 5]


def test_a_limited_change_never_reaches_rows_outside_its_filters(rest, batch, supabase_service):
    # qty=eq.1 picks one row; ordered by the shared name, the change must not spread to the other four
    answer = rest.patch("/items", params={"name": f"eq.{batch}", "qty": "eq.1", "limit": "5", "order": "name"},
                        json={"qty": 9})
    assert answer.status_code == 204, answer.text
    assert quantities(supabase_service, batch) == [9, 2, 3, 4, 5]
