"""Access tokens from /auth/v1 work at once in /rest/v1: RLS policies see auth.uid() and
auth.jwt(), two users cannot read each other's rows, and bad tokens are refused by REST too."""

from __future__ import annotations

import base64
import json
import time

import jwt as pyjwt
import pytest
from postgrest.exceptions import APIError

from supabase import ClientOptions, create_client
from tests.localbase.auth.conftest import client, signed_up


def test_two_users_cannot_read_each_others_rows(auth_server):
    alice, a = signed_up(auth_server)
    bob, b = signed_up(auth_server)
    alice.table("notes").insert({"body": "alice's secret"}).execute()
    bob.table("notes").insert({"body": "bob's secret"}).execute()
    mine = alice.table("notes").select("body, owner").execute().data
    theirs = bob.table("notes").select("body, owner").execute().data
    assert [r["body"] for r in mine] == ["alice's secret"] and mine[0]["owner"] == a.user.id
    assert [r["body"] for r in theirs] == ["bob's secret"] and theirs[0]["owner"] == b.user.id
    # writing a row owned by someone else is refused by the policy
    with pytest.raises(APIError):
        alice.table("notes").insert({"body": "forged", "owner": b.user.id}).execute()
    # the profile the sign-up trigger made is visible to its owner only
    assert [p["id"] for p in alice.table("profiles").select("id").execute().data] == [a.user.id]


def test_sql_sees_the_token_claims(auth_server):
    c, response = signed_up(auth_server)
    who = c.rpc("whoami").execute().data
    assert who == {"uid": response.user.id, "role": "authenticated", "email": response.user.email,
                   "is_anonymous": False, "aal": "aal1"}
    anonymous = client(auth_server)
    anon_user = anonymous.auth.sign_in_anonymously()
    who = anonymous.rpc("whoami").execute().data
    assert who["uid"] == anon_user.user.id and who["is_anonymous"] is True


def _rest_with_token(server, token: str):
    return create_client(server.url, server.anon_key,
                         options=ClientOptions(headers={"Authorization": f"Bearer {token}"},
                                               auto_refresh_token=False, persist_session=False))


@pytest.mark.parametrize("case", ["other_secret", "alg_none", "expired", "forged_role"])
def test_rest_refuses_bad_tokens(auth_server, case):
    c, response = signed_up(auth_server)
    c.table("notes").insert({"body": "mine"}).execute()
    token = response.session.access_token
    claims = pyjwt.decode(token, auth_server.jwt_secret, algorithms=["HS256"], audience="authenticated")
    b64 = lambda obj: base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()  # noqa: E731
    if case == "other_secret":
        bad = pyjwt.encode(claims, "y" * 40, algorithm="HS256")
    elif case == "alg_none":
        bad = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    elif case == "expired":
        bad = pyjwt.encode({**claims, "exp": int(time.time()) - 60}, auth_server.jwt_secret, algorithm="HS256")
    else:
        header, _, signature = token.split(".")
        bad = f"{header}.{b64({**claims, 'role': 'service_role'})}.{signature}"
    with pytest.raises(APIError) as info:
        _rest_with_token(auth_server, bad).table("notes").select("*").execute()
    assert str(info.value.code).startswith("PGRST") or info.value.code in ("401", 401)
    assert [r["body"] for r in _rest_with_token(auth_server, token).table("notes").select("body").execute().data] \
        == ["mine"]
