"""Wire-level PostgREST behaviour the clients rely on: Range headers, HEAD, Prefer, schema reload,
and the async client."""

from __future__ import annotations

import time

import httpx

from tests.localbase.helpers import client_for, sql


def _h(server, **extra) -> dict:
    return {"apikey": server.anon_key, **extra}


def test_range_header_and_content_range(localbase_server):
    url = f"{localbase_server.url}/rest/v1/countries?select=name&order=id"
    r = httpx.get(url, headers=_h(localbase_server, Range="1-2", **{"Range-Unit": "items"}))
    assert r.status_code == 200 and [c["name"] for c in r.json()] == ["Germany", "Japan"]
    assert r.headers["content-range"] == "1-2/*"
    r = httpx.get(url, headers=_h(localbase_server, Range="1-2", Prefer="count=exact"))
    assert r.status_code == 206 and r.headers["content-range"] == "1-2/5"
    r = httpx.get(url + "&offset=10", headers=_h(localbase_server, Prefer="count=exact"))
    assert r.status_code == 416 and r.json()["code"] == "PGRST103"
    r = httpx.get(url + "&id=eq.999", headers=_h(localbase_server, Prefer="count=exact"))
    assert r.status_code == 200 and r.headers["content-range"] == "*/0" and r.json() == []


def test_head_has_headers_and_no_body(localbase_server):
    r = httpx.head(f"{localbase_server.url}/rest/v1/countries", headers=_h(localbase_server, Prefer="count=exact"))
    assert r.status_code == 200 and r.content == b"" and r.headers["content-range"] == "0-4/5"


def test_openapi_root(localbase_server):
    r = httpx.get(f"{localbase_server.url}/rest/v1/", headers=_h(localbase_server))
    assert r.status_code == 200
    doc = r.json()
    assert doc["swagger"] == "2.0" and "/countries" in doc["paths"] and "/rpc/add_them" in doc["paths"]
    assert doc["definitions"]["countries"]["properties"]["id"]["type"] == "integer"


def test_preference_applied_and_tx_rollback(localbase_server):
    h = {"apikey": localbase_server.service_role_key, "Authorization": f"Bearer {localbase_server.service_role_key}"}
    r = httpx.post(f"{localbase_server.url}/rest/v1/people", json={"name": "Ghost"},
                   headers={**h, "Prefer": "return=representation,tx=rollback"})
    assert r.status_code == 201 and r.json()[0]["name"] == "Ghost"
    assert sql(localbase_server, "select count(*) from people where name = 'Ghost'")[0][0] == 0
    r = httpx.post(f"{localbase_server.url}/rest/v1/people", json={"name": "Casper"},
                   headers={**h, "Prefer": "return=minimal"})
    assert r.status_code == 201 and r.content == b"" and "return=minimal" in r.headers["preference-applied"]
    sql(localbase_server, "delete from people where name = 'Casper'")


def test_single_object_mutation_over_several_rows_rolls_back(localbase_server):
    h = {"apikey": localbase_server.service_role_key, "Authorization": f"Bearer {localbase_server.service_role_key}",
         "Accept": "application/vnd.pgrst.object+json", "Prefer": "return=representation"}
    r = httpx.patch(f"{localbase_server.url}/rest/v1/countries?continent=eq.Europe", json={"continent": "EU"},
                    headers=h)
    assert r.status_code == 406 and r.json()["code"] == "PGRST116"
    assert sql(localbase_server, "select count(*) from countries where continent = 'EU'")[0][0] == 0


def test_bad_bodies_and_params_answer_400(localbase_server):
    h = {"apikey": localbase_server.service_role_key, "Content-Type": "application/json"}
    r = httpx.post(f"{localbase_server.url}/rest/v1/people", content=b"{not json", headers=h)
    assert r.status_code == 400 and r.json()["code"] == "PGRST102"
    r = httpx.get(f"{localbase_server.url}/rest/v1/people?select=name(", headers=h)
    assert r.status_code == 400 and r.json()["code"] == "PGRST100"
    r = httpx.get(f"{localbase_server.url}/rest/v1/people?limit=-1", headers=h)
    assert r.status_code == 416 and r.json()["code"] == "PGRST103"  # as PostgREST answers
    r = httpx.get(f"{localbase_server.url}/rest/v1/people?id=zz.1", headers=h)
    assert r.status_code == 400 and r.json()["code"] == "PGRST100"


def test_schema_cache_reloads_on_notify(localbase_server, supabase_service):
    sql(localbase_server, "create table if not exists late_table (id int primary key, v text)")
    sql(localbase_server, "insert into late_table values (1, 'x') on conflict do nothing")
    sql(localbase_server, "notify pgrst, 'reload schema'")
    deadline = time.monotonic() + 5
    while True:
        try:
            assert supabase_service.table("late_table").select("v").execute().data == [{"v": "x"}]
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


async def test_async_client(async_supabase_anon):
    res = await async_supabase_anon.table("countries").select("name, cities(name)").eq("code", "DE").execute()
    assert res.data == [{"name": "Germany", "cities": [{"name": "Berlin"}]}]
    assert (await async_supabase_anon.rpc("add_them", {"a": 1, "b": 1}).execute()).data == 2
    res = await async_supabase_anon.table("cities").select("name", count="exact").limit(1).execute()
    assert res.count == 7


def test_aggregates_are_refused_by_default(localbase_server):
    r = httpx.get(f"{localbase_server.url}/rest/v1/cities?select=count()", headers=_h(localbase_server))
    assert r.status_code == 400 and r.json()["code"] == "PGRST123"


def test_put_replaces_one_row_named_by_its_primary_key(localbase_server):
    h = {"apikey": localbase_server.service_role_key, "Authorization": f"Bearer {localbase_server.service_role_key}",
         "Prefer": "return=representation"}
    url = f"{localbase_server.url}/rest/v1/people"
    r = httpx.put(f"{url}?id=eq.900", json={"id": 900, "name": "Put"}, headers=h)
    assert r.status_code in (200, 201) and r.json() == [{"id": 900, "name": "Put"}]
    r = httpx.put(f"{url}?id=eq.900", json={"id": 900, "name": "Put again"}, headers=h)
    assert r.json() == [{"id": 900, "name": "Put again"}]
    assert httpx.put(url, json={"id": 901, "name": "x"}, headers=h).json()["code"] == "PGRST105"
    assert httpx.put(f"{url}?id=eq.902", json={"id": 903, "name": "x"}, headers=h).json()["code"] == "PGRST115"
    sql(localbase_server, "delete from people where id = 900")


def test_max_affected_with_strict_handling_rolls_back(localbase_server):
    base = f"{localbase_server.url}/rest/v1"
    names = ("max-affected-1", "max-affected-2")
    r = httpx.post(f"{base}/items", headers=_h(localbase_server),
                   json=[{"sku": n, "name": "max-affected"} for n in names])
    assert r.status_code == 201, r.text
    strict = _h(localbase_server, Prefer="handling=strict, max-affected=1")
    r = httpx.patch(f"{base}/items?name=eq.max-affected", headers=strict, json={"qty": 5})
    assert r.status_code == 400 and r.json() == {
        "code": "PGRST124", "message": "Query result exceeds max-affected preference constraint",
        "details": "The query affects 2 rows", "hint": None}
    r = httpx.delete(f"{base}/items?name=eq.max-affected", headers=strict)
    assert r.status_code == 400 and r.json()["code"] == "PGRST124"
    assert [row["qty"] for row in httpx.get(f"{base}/items?name=eq.max-affected&select=qty",
                                            headers=_h(localbase_server)).json()] == [1, 1]
    lenient = _h(localbase_server, Prefer="max-affected=1")  # without handling=strict: ignored
    assert httpx.patch(f"{base}/items?name=eq.max-affected", headers=lenient, json={"qty": 2}).status_code == 204
    r = httpx.post(f"{base}/rpc/numbers", headers=strict, json={"n": 3})
    assert r.status_code == 400 and r.json()["details"] == "The query affects 3 rows"
    r = httpx.post(f"{base}/rpc/add_them", headers=strict, json={"a": 1, "b": 2})
    assert r.status_code == 400 and r.json()["code"] == "PGRST128"
    r = httpx.delete(f"{base}/items?sku=eq.max-affected-1", headers=strict)
    assert r.status_code == 204
    httpx.delete(f"{base}/items?name=eq.max-affected", headers=_h(localbase_server))


def test_csv_is_written_as_postgrest_writes_it(localbase_server):
    """A header of the column names, then each row's record text without its parentheses: NULL is
    empty, t/f for booleans, arrays and JSON as PostgreSQL prints them, fields quoted when needed."""
    c = client_for(localbase_server)
    got = c.table("cities").select("name,population,data,tags,founded").in_("name", ["Paris", "Toulouse"]) \
        .order("name").csv().execute()
    assert got.data == ('name,population,data,tags,founded\n'
                        'Paris,2100000,"{""rank"": 1, ""mayor"": {""name"": ""Anne""}}","{capital,big}",0250-01-01\n'
                        'Toulouse,,{},{},')
    base = f"{localbase_server.url}/rest/v1"
    r = httpx.get(f"{base}/countries?select=code,name&code=eq.FR", headers=_h(localbase_server, Accept="text/csv"))
    assert (r.status_code, r.headers["content-type"]) == (200, "text/csv; charset=utf-8")
    assert r.text == "code,name\nFR,France"
    assert r.headers["content-range"] == "0-0/*"
    r = httpx.get(f"{base}/countries?code=eq.XX", headers=_h(localbase_server, Accept="text/csv"))
    assert (r.status_code, r.text) == (200, "\n")  # no rows: an empty header line, as PostgREST
    r = httpx.get(f"{base}/rpc/continent_stats?continent=eq.Europe",
                  headers=_h(localbase_server, Accept="text/csv"))  # a function returning a table
    assert r.status_code == 200 and r.text.startswith("continent,countries\nEurope,"), r.text
    r = httpx.post(f"{base}/people", headers=_h(localbase_server, Accept="text/csv", Prefer="return=representation"),
                   json={"name": 'Quote "me", please'})
    assert r.status_code == 201 and r.text.split("\n")[1].endswith(',"Quote ""me"", please"'), r.text
    httpx.delete(f"{base}/people?name=eq.Quote \"me\", please", headers=_h(localbase_server))
    r = httpx.get(f"{base}/rpc/numbers?n=2", headers=_h(localbase_server, Accept="text/csv"))
    assert r.status_code == 406 and r.json()["code"] == "PGRST107"  # scalars have no columns


def test_media_types_not_produced_answer_406(localbase_server):
    for accept in ("application/geo+json", "application/vnd.pgrst.plan+json"):
        r = httpx.get(f"{localbase_server.url}/rest/v1/countries", headers=_h(localbase_server, Accept=accept))
        assert r.status_code == 406 and r.json()["code"] == "PGRST107", accept
        assert r.json()["message"] == f"None of these media types are available: {accept}"


def test_the_apikey_may_come_in_the_query_string(localbase_server):
    """As through Supabase's gateway: `?apikey=` authenticates and is not a column filter."""
    url = f"{localbase_server.url}/rest/v1/countries"
    by_header = httpx.get(url, params={"select": "name", "order": "name"}, headers=_h(localbase_server))
    by_query = httpx.get(url, params={"select": "name", "order": "name", "apikey": localbase_server.anon_key})
    assert by_query.status_code == 200, by_query.text
    assert by_query.json() == by_header.json() != []
