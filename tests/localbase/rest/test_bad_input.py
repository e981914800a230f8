"""Bad input that once answered 5xx (a 500, or a 503 that clients retry) now gets PostgREST's 4xx
in its own shape: params=single-object on a function without arguments, an empty PATCH body, a
validly signed JWT whose time claims are not numbers."""

from __future__ import annotations

import httpx
import pytest
from postgrest.exceptions import APIError

from localbase.security import jwt
from tests.localbase.helpers import client_for


def test_single_object_on_a_function_without_arguments_is_404_not_500(localbase_server):
    answer = httpx.post(f"{localbase_server.url}/rest/v1/rpc/whoami", json={},
                        headers={"apikey": localbase_server.anon_key, "Prefer": "params=single-object"})
    assert answer.status_code == 404
    assert answer.json() == {
        "code": "PGRST202", "message": "Could not find the function public.whoami in the schema cache",
        "details": "Searched for the function public.whoami with a single json/jsonb parameter, but no matches "
                   "were found in the schema cache.", "hint": None}
    for name in ("add_them", "hello"):  # arguments, but none of them one json/jsonb: PGRST202 too
        answer = httpx.post(f"{localbase_server.url}/rest/v1/rpc/{name}", json={"a": 1, "b": 2, "name": "x"},
                            headers={"apikey": localbase_server.anon_key, "Prefer": "params=single-object"})
        assert (answer.status_code, answer.json()["code"]) == (404, "PGRST202"), answer.text
        assert "with a single json/jsonb parameter" in answer.json()["details"]
    # a function of one json argument takes the whole body as it
    echoed = httpx.post(f"{localbase_server.url}/rest/v1/rpc/echo", json={"a": [1, 2]},
                        headers={"apikey": localbase_server.anon_key, "Prefer": "params=single-object"})
    assert (echoed.status_code, echoed.json()) == (200, {"a": [1, 2]})


def test_an_empty_patch_is_a_no_op_not_a_retryable_503(localbase_server, supabase_service):
    key = localbase_server.service_role_key
    headers = {"apikey": key, "Authorization": f"Bearer {key}"}
    url = f"{localbase_server.url}/rest/v1/people"
    for body in ({}, [], [{}]):
        answer = httpx.patch(url, params={"id": "eq.1"}, json=body, headers=headers)
        assert (answer.status_code, answer.content, answer.headers["content-range"]) == (204, b"", "*/*"), body
    shown = httpx.patch(url, params={"id": "eq.1"}, json={}, headers={**headers, "Prefer": "return=representation"})
    assert (shown.status_code, shown.json(), shown.headers["content-range"]) == (200, [], "*/*")
    # through the client too
    assert supabase_service.table("people").update({}).eq("id", 1).execute().data == []
    assert supabase_service.table("people").select("name").eq("id", 1).execute().data == [{"name": "Ann"}]


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_a_signed_jwt_with_a_string_time_claim_is_401(localbase_server, claim):
    as_text = "4102444800" if claim == "exp" else "1000000000"  # a valid time, written as a string
    token = jwt.sign({"sub": "00000000-0000-0000-0000-000000000001", "role": "authenticated",
                      "exp": 4102444800, claim: as_text}, localbase_server.jwt_secret)
    with pytest.raises(APIError) as info:
        client_for(localbase_server, token).table("countries").select("id").execute()
    assert info.value.code == "PGRST303"
    assert info.value.message == f"The JWT '{claim}' claim must be a number"
    raw = httpx.get(f"{localbase_server.url}/rest/v1/countries",
                    headers={"apikey": localbase_server.anon_key, "Authorization": f"Bearer {token}"})
    assert raw.status_code == 401 and 'error="invalid_token"' in raw.headers["www-authenticate"]


def test_options_answers_the_allowed_methods_in_postgrest_shape(localbase_server):
    def options(path: str) -> httpx.Response:
        return httpx.options(f"{localbase_server.url}/rest/v1/{path}", headers={"apikey": localbase_server.anon_key})

    assert options("countries").headers["allow"] == "OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE"
    assert options("big_cities").status_code == 200  # a view: what PostgreSQL says it takes
    assert options("rpc/hello").headers["allow"] == "OPTIONS,GET,HEAD,POST"
    assert options("rpc/make_note").headers["allow"] == "OPTIONS,POST"
    assert options("").headers["allow"] == "OPTIONS,GET,HEAD"
    missing = options("nope")
    assert missing.status_code == 404 and missing.json()["code"] == "PGRST205"


def test_a_deeply_nested_rpc_body_reaches_postgresql_instead_of_a_500(localbase_server):
    deep = "[" * 600 + "1" + "]" * 600  # deeper than orjson writes (it once re-encoded the body: a 500)
    url = f"{localbase_server.url}/rest/v1/rpc"
    headers = {"apikey": localbase_server.anon_key, "Content-Type": "application/json"}
    echoed = httpx.post(f"{url}/echo", content=f'{{"payload": {deep}}}', headers=headers)
    assert echoed.status_code == 200 and echoed.text.replace(" ", "") == deep
    unknown = httpx.post(f"{url}/numbers", content=f'{{"a": {deep}}}', headers=headers)
    assert unknown.status_code == 404 and unknown.json()["code"] == "PGRST202"
