"""JWT verification and row-level security: the database decides, per caller."""

from __future__ import annotations

import time

import httpx
import pytest
from postgrest.exceptions import APIError

from tests.localbase.helpers import client_for, user_token


def test_rls_isolates_users_and_anon(localbase_server, make_user, supabase_anon, supabase_service):
    alice, alice_token = make_user()
    bob, bob_token = make_user()
    a = client_for(localbase_server, alice_token)
    b = client_for(localbase_server, bob_token)
    a.table("notes").insert({"body": "alice's"}).execute()  # owner_id defaults to auth.uid()
    b.table("notes").insert({"body": "bob's"}).execute()
    assert [n["body"] for n in a.table("notes").select("*").execute().data] == ["alice's"]
    assert [n["body"] for n in b.table("notes").select("*").execute().data] == ["bob's"]
    assert supabase_anon.table("notes").select("*").execute().data == []
    everyone = supabase_service.table("notes").select("owner_id").in_("owner_id", [alice, bob]).execute().data
    assert sorted(n["owner_id"] for n in everyone) == sorted([alice, bob])
    # bob can neither change nor delete alice's note, nor write one in her name
    assert b.table("notes").update({"body": "hacked"}).eq("owner_id", alice).execute().data == []
    assert b.table("notes").delete().eq("owner_id", alice).execute().data == []
    with pytest.raises(APIError) as err:
        b.table("notes").insert({"body": "forged", "owner_id": alice}).execute()
    assert err.value.code == "42501"
    assert [n["body"] for n in a.table("notes").select("*").execute().data] == ["alice's"]


def test_grants_answer_401_for_anon_and_403_for_users(localbase_server, make_user):
    r = httpx.get(f"{localbase_server.url}/rest/v1/secrets", headers={"apikey": localbase_server.anon_key})
    assert r.status_code == 401 and r.json()["code"] == "42501"
    _, token = make_user()
    client = client_for(localbase_server, token)
    assert len(client.table("secrets").select("*").execute().data) == 2
    r = httpx.get(f"{localbase_server.url}/rest/v1/hidden_nothing", headers={"apikey": localbase_server.anon_key})
    assert r.status_code == 404


def _get(server, token: str) -> httpx.Response:
    return httpx.get(f"{server.url}/rest/v1/countries",
                     headers={"apikey": server.anon_key, "Authorization": f"Bearer {token}"})


def test_bad_tokens_are_refused(localbase_server):
    uid = "00000000-0000-0000-0000-000000000001"
    forged = user_token(localbase_server, uid, secret="another-secret-that-is-long-enough-123456")
    r = _get(localbase_server, forged)
    assert r.status_code == 401 and r.json()["code"] == "PGRST301"
    assert "invalid_token" in r.headers["www-authenticate"]
    expired = user_token(localbase_server, uid, expires_in=-10)
    r = _get(localbase_server, expired)
    assert r.status_code == 401 and r.json()["code"] == "PGRST303" and r.json()["message"] == "JWT expired"
    import base64
    import json
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=").decode()
    claims = json.dumps({"role": "service_role", "exp": int(time.time()) + 60}).encode()
    body = base64.urlsafe_b64encode(claims).rstrip(b"=").decode()
    r = _get(localbase_server, f"{header}.{body}.")
    assert r.status_code == 401
    good = user_token(localbase_server, uid)
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    assert _get(localbase_server, tampered).status_code == 401
    assert _get(localbase_server, "not.a.jwt").status_code == 401
    assert _get(localbase_server, "garbage").status_code == 401


def test_a_role_the_server_cannot_become_is_refused(localbase_server):
    token = user_token(localbase_server, "00000000-0000-0000-0000-000000000002", role="postgres")
    r = _get(localbase_server, token)
    assert r.status_code in (401, 403) and r.json()["code"] == "42501"
    assert "postgres" not in r.text or "permission denied" in r.text


def test_apikey_is_required_and_checked(localbase_server):
    r = httpx.get(f"{localbase_server.url}/rest/v1/countries")
    assert r.status_code == 401 and r.json()["message"] == "No API key found in request"
    r = httpx.get(f"{localbase_server.url}/rest/v1/countries", headers={"apikey": "wrong"})
    assert r.status_code == 401 and r.json()["message"] == "Invalid API key"


def test_errors_never_leak_sql(localbase_server):
    r = httpx.get(f"{localbase_server.url}/rest/v1/countries?select=name&id=eq.abc",
                  headers={"apikey": localbase_server.anon_key})
    assert r.status_code == 400
    body = r.json()
    assert set(body) == {"code", "message", "details", "hint"}
    assert "select " not in r.text.lower() and "$1" not in r.text
