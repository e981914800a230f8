"""The signed-in user: update_user (data, password, email), anonymous users, and the tokens the
auth service must refuse (another secret, alg=none, expired, forged role)."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt as pyjwt
import pytest
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from tests.localbase.auth.conftest import PASSWORD, client, db, new_email, signed_up


def _claims(server, token: str) -> dict:
    return pyjwt.decode(token, server.jwt_secret, algorithms=["HS256"], audience="authenticated")


def test_update_user_metadata_merges_and_removes(auth_server):
    c, _ = signed_up(auth_server, a=1, b=2)
    updated = c.auth.update_user({"data": {"b": None, "c": 3}})
    assert updated.user.user_metadata == {"a": 1, "c": 3}
    assert c.auth.get_user().user.user_metadata == {"a": 1, "c": 3}


def test_update_password_then_sign_in_with_it(auth_server):
    email = new_email()
    c, _ = signed_up(auth_server, email)
    c.auth.update_user({"password": "a-new-password-2"})
    with pytest.raises(AuthApiError):
        client(auth_server).auth.sign_in_with_password({"email": email, "password": PASSWORD})
    assert client(auth_server).auth.sign_in_with_password({"email": email, "password": "a-new-password-2"}).session


def test_update_password_policy_and_same_password(auth_server):
    c, _ = signed_up(auth_server)
    with pytest.raises(AuthWeakPasswordError):
        c.auth.update_user({"password": "short"})
    with pytest.raises(AuthApiError) as info:
        c.auth.update_user({"password": PASSWORD})
    assert (info.value.status, info.value.code) == (422, "same_password")


def test_update_email_with_autoconfirm_changes_it_at_once(auth_server):
    c, response = signed_up(auth_server)
    new = new_email("moved")
    updated = c.auth.update_user({"email": new})
    assert updated.user.email == new and updated.user.email_confirmed_at is not None
    signed_in = client(auth_server).auth.sign_in_with_password({"email": new, "password": PASSWORD})
    assert signed_in.user.id == response.user.id


def test_update_email_to_a_taken_address_is_refused(auth_server):
    taken = new_email("taken")
    signed_up(auth_server, taken)
    c, _ = signed_up(auth_server)
    with pytest.raises(AuthApiError) as info:
        c.auth.update_user({"email": taken})
    assert (info.value.status, info.value.code) == (422, "email_exists")


def test_anonymous_sign_in_and_upgrade(auth_server):
    c = client(auth_server)
    events = []
    c.auth.on_auth_state_change(lambda event, session: events.append(event))
    response = c.auth.sign_in_anonymously({"options": {"data": {"theme": "dark"}}})
    assert response.user.is_anonymous and response.user.email in (None, "")
    claims = _claims(auth_server, response.session.access_token)
    assert claims["is_anonymous"] is True and claims["role"] == "authenticated"
    assert claims["amr"][0]["method"] == "anonymous"
    email = new_email("upgraded")
    upgraded = c.auth.update_user({"email": email, "password": PASSWORD})
    assert upgraded.user.is_anonymous is False and upgraded.user.email == email
    assert client(auth_server).auth.sign_in_with_password({"email": email, "password": PASSWORD}).user.id \
        == response.user.id
    assert events == ["SIGNED_IN", "USER_UPDATED"]


def _forge(server, claims: dict, *, secret: str | None = None, alg: str = "HS256") -> str:
    if alg == "none":
        def b64(obj):
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
        return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    return pyjwt.encode(claims, secret or server.jwt_secret, algorithm=alg)


@pytest.mark.parametrize("case", ["other_secret", "alg_none", "expired", "forged_role"])
def test_bad_tokens_are_refused(auth_server, case):
    _, response = signed_up(auth_server)
    token = response.session.access_token
    claims = _claims(auth_server, token)
    if case == "other_secret":
        bad = _forge(auth_server, claims, secret="x" * 40)
    elif case == "alg_none":
        bad = _forge(auth_server, claims, alg="none")
    elif case == "expired":
        bad = _forge(auth_server, {**claims, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600})
    else:  # the payload edited to claim service_role, the signature left as it was
        header, _, signature = token.split(".")
        payload = base64.urlsafe_b64encode(json.dumps({**claims, "role": "service_role"}).encode()).rstrip(b"=")
        bad = f"{header}.{payload.decode()}.{signature}"
    with pytest.raises(AuthApiError) as info:
        client(auth_server).auth.get_user(bad)
    assert (info.value.status, info.value.code) == (403, "bad_jwt")
    assert client(auth_server).auth.get_user(token).user.id == response.user.id
    if case == "forged_role":
        c = client(auth_server, auth_server.service_role_key)
        c.auth._headers["Authorization"] = f"Bearer {bad}"
        with pytest.raises(AuthApiError) as info:
            c.auth._request("GET", "admin/users", jwt=bad)
        assert info.value.status == 403


def test_get_user_without_token_is_no_authorization(auth_server):
    c = client(auth_server)
    with pytest.raises(AuthApiError) as info:
        c.auth._request("GET", "user", headers={"Authorization": ""})
    assert (info.value.status, info.value.code) == (401, "no_authorization")


def test_user_row_matches_supabase_columns(auth_server):
    _, response = signed_up(auth_server, k="v")
    row = db(auth_server, "select aud, role, email, raw_user_meta_data, raw_app_meta_data, email_confirmed_at, "
             "confirmed_at, is_anonymous, instance_id from auth.users where email = $1", response.user.email,
             fetch="fetchrow")
    assert row["aud"] == row["role"] == "authenticated" and row["raw_user_meta_data"] == '{"k": "v"}'
    assert row["confirmed_at"] == row["email_confirmed_at"] and row["is_anonymous"] is False
    ident = db(auth_server, "select provider, provider_id, identity_data ->> 'email' as email from auth.identities "
               "where user_id = $1", uuid.UUID(response.user.id), fetch="fetchrow")
    assert ident["provider"] == "email" and ident["provider_id"] == response.user.id
    assert ident["email"] == response.user.email
