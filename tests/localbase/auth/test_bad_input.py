"""Bad input that once answered 500 now gets GoTrue's 4xx in its own shape: a NUL character in a
sign-up (PostgreSQL's text cannot hold one), a ban longer than a Go duration, a validly signed
access token whose time claims are not numbers."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from supabase_auth.errors import AuthApiError

from localbase.security import jwt
from tests.localbase.auth.conftest import PASSWORD, db, new_email


def test_a_nul_character_in_a_sign_up_is_400(auth_server, anon):
    with pytest.raises(AuthApiError) as info:
        anon.auth.sign_up({"email": "nul\x00" + new_email(), "password": PASSWORD})
    assert (info.value.status, info.value.code) == (400, "validation_failed")
    with pytest.raises(AuthApiError) as info:  # anywhere in the body: metadata too
        anon.auth.sign_up({"email": new_email(), "password": PASSWORD, "options": {"data": {"name": "a\x00b"}}})
    assert (info.value.status, info.value.code) == (400, "validation_failed")
    raw = httpx.post(f"{auth_server.url}/auth/v1/signup", content=b'{"email":"a\\u0000b@example.com","password":"x"}',
                     headers={"apikey": auth_server.anon_key, "Content-Type": "application/json"})
    assert raw.status_code == 400 and raw.json()["error_code"] == "validation_failed"
    assert db(auth_server, "select count(*) from auth.users where email like 'nul%'", fetch="fetchval") == 0


def test_a_ban_longer_than_a_go_duration_is_400(service):
    user = service.auth.admin.create_user({"email": new_email("ban"), "password": PASSWORD}).user
    with pytest.raises(AuthApiError) as info:
        service.auth.admin.update_user_by_id(user.id, {"ban_duration": "99999999999h"})
    assert (info.value.status, info.value.code) == (400, "validation_failed")
    assert "invalid duration" in info.value.message
    assert service.auth.admin.get_user_by_id(user.id).user.banned_until is None
    # the longest Go duration (about 292 years) is a ban still
    assert service.auth.admin.update_user_by_id(user.id, {"ban_duration": "2562047h"}).user.banned_until


def test_a_signed_token_with_a_string_exp_is_refused_not_500(auth_server, anon):
    user_id = str(uuid.uuid4())
    token = jwt.sign({"sub": user_id, "role": "authenticated", "aud": "authenticated",
                      "exp": str(int(time.time()) + 3600)}, auth_server.jwt_secret)
    with pytest.raises(AuthApiError) as info:
        anon.auth.get_user(token)
    # GoTrue answers a token it cannot accept with 403 bad_jwt (REST answers 401 PGRST303)
    assert (info.value.status, info.value.code) == (403, "bad_jwt")
    assert "The JWT 'exp' claim must be a number" in info.value.message
