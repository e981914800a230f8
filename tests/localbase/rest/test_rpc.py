"""Functions through supabase.rpc(): POST and GET, scalar, set-returning, table-returning, void."""

from __future__ import annotations

import pytest
from postgrest.exceptions import APIError


def test_scalar_post_and_get(supabase_anon):
    assert supabase_anon.rpc("add_them", {"a": 2, "b": 3}).execute().data == 5
    assert supabase_anon.rpc("add_them", {"a": 2, "b": 40}, get=True).execute().data == 42
    assert supabase_anon.rpc("hello").execute().data == "hello world"
    assert supabase_anon.rpc("hello", {"name": "Ada"}).execute().data == "hello Ada"


def test_set_returning_is_filterable_like_a_table(supabase_anon):
    res = supabase_anon.rpc("cities_named", {"pattern": "%o%"}).select("name").gt("population", 3000000) \
        .order("name").execute()
    assert [r["name"] for r in res.data] == ["Nairobi", "Tokyo"]
    res = supabase_anon.rpc("cities_named", {"pattern": "%"}, count="exact").select("name").limit(2).execute()
    assert res.count == 7 and len(res.data) == 2
    res = supabase_anon.rpc("continent_stats").eq("continent", "Europe").execute()
    assert res.data == [{"continent": "Europe", "countries": 2}]
    assert supabase_anon.rpc("numbers", {"n": 3}).execute().data == [1, 2, 3]


def test_a_set_of_scalars_pages_and_counts(localbase_server, supabase_anon):
    res = supabase_anon.rpc("numbers", {"n": 5}, count="exact").range(1, 2).execute()
    assert res.data == [2, 3] and res.count == 5
    import httpx
    r = httpx.get(f"{localbase_server.url}/rest/v1/rpc/numbers?n=5", headers={
        "apikey": localbase_server.anon_key, "Range": "3-"})
    assert r.json() == [4, 5] and r.headers["content-range"] == "3-4/*"


def test_json_argument_and_void(supabase_anon):
    assert supabase_anon.rpc("echo", {"payload": {"a": [1, 2]}}).execute().data == {"a": [1, 2]}
    assert supabase_anon.rpc("touch_nothing").execute().data in ([], None)


def test_role_and_claims_reach_sql(localbase_server, supabase_anon, make_user):
    from tests.localbase.helpers import client_for
    assert supabase_anon.rpc("whoami").execute().data == {"role": "anon", "uid": None, "current_user": "anon"}
    uid, token = make_user()
    me = client_for(localbase_server, token).rpc("whoami").execute().data
    assert me == {"role": "authenticated", "uid": uid, "current_user": "authenticated"}


def test_rpc_errors(supabase_anon):
    with pytest.raises(APIError) as err:
        supabase_anon.rpc("no_such_function").execute()
    assert err.value.code == "PGRST202"
    with pytest.raises(APIError) as err:
        supabase_anon.rpc("add_them", {"a": 1, "zzz": 2}).execute()
    assert err.value.code == "PGRST202"
    with pytest.raises(APIError) as err:
        supabase_anon.rpc("fail_with", {"code": "P0001", "msg": "nope"}).execute()
    assert (err.value.code, err.value.message, err.value.details, err.value.hint) == ("P0001", "nope", "some detail", "some hint")
