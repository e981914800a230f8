"""Functions through supabase.rpc(): POST and GET, scalar, set-returning, table-returning, void."""

from __future__ import annotations

import httpx
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
    assert (err.value.code, err.value.message, err.value.details, err.value.hint) == (
        "P0001", "nope", "some detail", "some hint")


# -- PostgREST's function resolution (issue 13: the postgrest-js suite) ---------------------------
def _post(server, fn: str, body: bytes, content_type: str) -> httpx.Response:
    return httpx.post(f"{server.url}/rest/v1/rpc/{fn}", content=body,
                      headers={"apikey": server.anon_key, "Content-Type": content_type})


def test_one_unnamed_parameter_takes_the_body_whole(localbase_server, supabase_anon):
    assert supabase_anon.rpc("json_keys", {"a": 1, "b": 2, "c": 3}).execute().data == 3
    assert _post(localbase_server, "shout", b"quiet please", "text/plain").json() == "QUIET PLEASE"
    assert _post(localbase_server, "byte_size", bytes(range(7)), "application/octet-stream").json() == 7
    # overloads: no argument -> pick(); a raw text body -> pick(text); pick(int) is never callable
    assert supabase_anon.rpc("pick").execute().data == "none"
    assert _post(localbase_server, "pick", b"abc", "text/plain").json() == "text: abc"


def test_overloads_and_missing_functions_answer_as_postgrest(supabase_anon):
    with pytest.raises(APIError) as err:
        supabase_anon.rpc("twin", {"a": "x"}).execute()
    assert err.value.code == "PGRST203"
    assert err.value.message == ("Could not choose the best candidate function between: public.twin(a => integer), "
                                 "public.twin(a => text)")
    assert err.value.hint == ("Try renaming the parameters or the function itself in the database so function "
                              "overloading can be resolved")
    with pytest.raises(APIError) as err:  # unnamed, not text/json/...: never in the schema cache
        supabase_anon.rpc("add_thme", {"a": 1, "b": 2}).execute()
    assert (err.value.code, err.value.message, err.value.details, err.value.hint) == (
        "PGRST202", "Could not find the function public.add_thme(a, b) in the schema cache",
        "Searched for the function public.add_thme with parameters a, b or with a single unnamed json/jsonb "
        "parameter, but no matches were found in the schema cache.",
        "Perhaps you meant to call the function public.add_them")
    with pytest.raises(APIError) as err:
        supabase_anon.rpc("add_them", {"a": 1, "c": 2}).execute()
    assert err.value.hint == "Perhaps you meant to call the function public.add_them(a, b)"


def test_a_function_returning_one_row_answers_an_object(supabase_anon):
    assert supabase_anon.rpc("country_by_code", {"c": "JP"}).execute().data == {
        "id": 3, "name": "Japan", "code": "JP", "continent": "Asia"}
    assert supabase_anon.rpc("country_by_code", {"c": "JP"}).select("name").execute().data == {"name": "Japan"}
    # filtered away -> null
    assert supabase_anon.rpc("country_by_code", {"c": "JP"}).eq("continent", "Europe").execute().data is None


def test_count_exact_on_a_scalar_function(supabase_anon):
    res = supabase_anon.rpc("add_them", {"a": 1, "b": 2}, count="exact").execute()
    assert (res.data, res.count) == (3, 1)


def test_computed_fields_on_function_results(supabase_anon):
    res = supabase_anon.rpc("big_countries_named", {"pattern": "J%"}).select("name, label").execute()
    assert res.data == [{"name": "Japan", "label": "Japan (JP)"}]
