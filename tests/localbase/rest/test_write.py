"""Inserts, upserts, updates and deletes through the official client (service role: no RLS)."""

from __future__ import annotations

import uuid

import pytest
from postgrest.exceptions import APIError


def sku() -> str:
    return "sku-" + uuid.uuid4().hex[:10]


def test_insert_one_returns_the_row_with_defaults(supabase_service):
    s = sku()
    res = supabase_service.table("items").insert({"sku": s, "name": "bolt", "price": 1.5}).execute()
    row = res.data[0]
    assert row["sku"] == s and row["qty"] == 1 and row["price"] == 1.5
    uuid.UUID(row["id"])
    assert row["created_at"]


def test_insert_many_with_columns_and_missing_default(supabase_service):
    a, b = sku(), sku()
    res = supabase_service.table("items").insert([{"sku": a, "name": "a", "qty": 5}, {"sku": b, "name": "b"}],
                                                 default_to_null=False).execute()
    assert [(r["sku"], r["qty"]) for r in res.data] == [(a, 5), (b, 1)]
    with pytest.raises(APIError) as err:  # default_to_null: a missing qty becomes null, violating not null
        rows = [{"sku": sku(), "name": "a", "qty": 5}, {"sku": sku(), "name": "b"}]
        supabase_service.table("items").insert(rows).execute()
    assert err.value.code == "23502"


def test_insert_minimal_and_count(supabase_service):
    res = supabase_service.table("items").insert({"sku": sku(), "name": "m"}, returning="minimal",
                                                  count="exact").execute()
    assert res.data == [] and res.count == 1


def test_insert_errors(supabase_service):
    s = sku()
    supabase_service.table("items").insert({"sku": s, "name": "x"}).execute()
    with pytest.raises(APIError) as err:
        supabase_service.table("items").insert({"sku": s, "name": "dup"}).execute()
    assert err.value.code == "23505" and "already exists" in err.value.details
    with pytest.raises(APIError) as err:
        supabase_service.table("items").insert({"sku": sku(), "name": "x", "qty": -1}).execute()
    assert err.value.code == "23514"
    with pytest.raises(APIError) as err:
        supabase_service.table("items").insert({"sku": sku(), "name": "x", "nope": 1}).execute()
    assert err.value.code == "PGRST204"
    with pytest.raises(APIError) as err:
        supabase_service.table("cities").insert({"name": "Nowhere", "country_id": 999}).execute()
    assert err.value.code == "23503"
    with pytest.raises(APIError) as err:
        supabase_service.table("items").insert({"sku": sku(), "name": "x", "qty": "many"}).execute()
    assert err.value.code == "22P02"


def test_upsert_merge_ignore_and_on_conflict(supabase_service):
    s = sku()
    first = supabase_service.table("items").upsert({"sku": s, "name": "one", "qty": 1}, on_conflict="sku").execute()
    again = supabase_service.table("items").upsert({"sku": s, "name": "two", "qty": 2}, on_conflict="sku").execute()
    assert again.data[0]["id"] == first.data[0]["id"] and again.data[0]["name"] == "two"
    ignored = supabase_service.table("items").upsert({"sku": s, "name": "three"}, on_conflict="sku",
                                                     ignore_duplicates=True).execute()
    assert ignored.data == []
    row = supabase_service.table("items").select("name, qty").eq("sku", s).single().execute().data
    assert row == {"name": "two", "qty": 2}
    kenya = {"id": 5, "name": "Kenya", "code": "KE", "continent": "Africa"}
    res = supabase_service.table("countries").upsert(kenya).execute()
    assert res.data == [{"id": 5, "name": "Kenya", "code": "KE", "continent": "Africa"}]


def test_update_and_delete_with_filters(supabase_service):
    s1, s2 = sku(), sku()
    supabase_service.table("items").insert([{"sku": s1, "name": "u"}, {"sku": s2, "name": "u"}]).execute()
    res = supabase_service.table("items").update({"qty": 9}).in_("sku", [s1, s2]).execute()
    assert sorted(r["qty"] for r in res.data) == [9, 9]
    res = supabase_service.table("items").update({"name": "v"}, count="exact").eq("sku", s1).execute()
    assert res.count == 1 and res.data[0]["name"] == "v"
    res = supabase_service.table("items").delete().eq("sku", s1).execute()
    assert [r["sku"] for r in res.data] == [s1]
    res = supabase_service.table("items").delete(returning="minimal").eq("sku", s2).execute()
    assert res.data == []
    assert supabase_service.table("items").select("id").in_("sku", [s1, s2]).execute().data == []


def test_insert_with_embedded_select(supabase_service):
    res = supabase_service.table("cities").insert({"name": "Kyoto", "country_id": 3}) \
        .select("name, countries(name)").execute()
    assert res.data == [{"name": "Kyoto", "countries": {"name": "Japan"}}]
    supabase_service.table("cities").delete().eq("name", "Kyoto").execute()


def test_other_schema_write(supabase_service):
    inv = supabase_service.schema("inventory")
    res = inv.table("parts").insert({"name": "washer", "stock": 7}).execute()
    assert res.data[0]["name"] == "washer"
    inv.table("parts").delete().eq("name", "washer").execute()


def test_get_request_cannot_write(localbase_server):
    import httpx
    r = httpx.get(f"{localbase_server.url}/rest/v1/rpc/make_note", params={"body": "x"},
                  headers={"apikey": localbase_server.service_role_key,
                           "Authorization": f"Bearer {localbase_server.service_role_key}"})
    assert r.status_code == 405 and r.json()["code"] == "25006"


def test_upsert_answers_200_when_it_only_updates_201_when_it_inserts(supabase_service):
    tallies = supabase_service.table("tallies")
    label = sku()
    assert tallies.upsert({"label": label, "n": 1}, on_conflict="label").execute().data[0]["n"] == 1
    assert _status(supabase_service, tallies.upsert({"label": label, "n": 2}, on_conflict="label")) == 200
    both = [{"label": label, "n": 3}, {"label": sku(), "n": 1}]
    assert _status(supabase_service, tallies.upsert(both, on_conflict="label")) == 201
    ignored = tallies.upsert({"label": label, "n": 4}, on_conflict="label", ignore_duplicates=True)
    assert _status(supabase_service, ignored) == 201


def _status(client, query) -> int:
    """The HTTP status of a query (supabase-py's response object does not carry it)."""
    seen: list[int] = []
    hooks = client.postgrest.session.event_hooks["response"]
    hooks.append(lambda response: seen.append(response.status_code))
    try:
        query.execute()
    finally:
        hooks.pop()
    return seen[-1]


def test_missing_default_uses_an_identity_columns_next_value(supabase_service):
    a, b, c = sku(), sku(), sku()
    rows = [{"id": 1_000_000 + hash(a) % 1000, "label": a}, {"label": b, "n": 5}, {"label": c, "n": 6}]
    first, second, third = supabase_service.table("tallies").insert(rows, default_to_null=False).execute().data
    assert first["label"] == a and first["n"] == 0
    assert (second["label"], second["n"], third["label"], third["n"]) == (b, 5, c, 6)
    assert isinstance(second["id"], int) and third["id"] == second["id"] + 1  # each row its own value
