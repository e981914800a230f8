"""Sign-up and password sign-in through supabase-py (sync and async), GoTrue's errors, the
access token's claims, the sign-up trigger, and bcrypt hashes compatible with GoTrue's."""

from __future__ import annotations

import time
import uuid

import bcrypt
import jwt as pyjwt
import pytest
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from tests.localbase.auth.conftest import PASSWORD, aclient, client, db, new_email, signed_up


def test_sign_up_returns_session_user_and_metadata(auth_server):
    email = new_email()
    c, response = signed_up(auth_server, email, display_name="Ada")
    user, session = response.user, response.session
    assert session is not None and session.token_type == "bearer" and session.expires_in == 3600
    assert user.email == email and user.user_metadata == {"display_name": "Ada"}
    assert user.app_metadata == {"provider": "email", "providers": ["email"]}
    assert user.email_confirmed_at is not None and user.aud == "authenticated" and user.role == "authenticated"
    assert [i.provider for i in user.identities] == ["email"]
    assert c.auth.get_user().user.id == user.id
    assert c.auth.get_session().access_token == session.access_token


def test_sign_up_trigger_creates_profile_row(auth_server):
    _, response = signed_up(auth_server, display_name="Grace")
    row = db(auth_server, "select email, display_name from public.profiles where id = $1",
             uuid.UUID(response.user.id), fetch="fetchrow")
    assert row is not None and row["display_name"] == "Grace" and row["email"] == response.user.email


def test_password_is_stored_as_bcrypt(auth_server):
    _, response = signed_up(auth_server)
    hashed = db(auth_server, "select encrypted_password from auth.users where id = $1",
                uuid.UUID(response.user.id), fetch="fetchval")
    assert hashed.startswith("$2") and bcrypt.checkpw(PASSWORD.encode(), hashed.encode())


def test_user_exported_from_supabase_can_sign_in(auth_server):
    """GoTrue writes $2a$ hashes of cost 10; a row inserted as an export would be signs in."""
    email, user_id = new_email("export"), uuid.uuid4()
    hashed = bcrypt.hashpw(b"exported-pass", bcrypt.gensalt(10, prefix=b"2a")).decode()
    assert hashed.startswith("$2a$10$")
    db(auth_server, """insert into auth.users (instance_id, id, aud, role, email, encrypted_password,
                           email_confirmed_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
                       values ('00000000-0000-0000-0000-000000000000', $1, 'authenticated', 'authenticated',
                               $2, $3, now(), '{"provider":"email","providers":["email"]}', '{}', now(), now())""",
       user_id, email, hashed, fetch="execute")
    response = client(auth_server).auth.sign_in_with_password({"email": email, "password": "exported-pass"})
    assert response.user.id == str(user_id)


def test_sign_in_with_password(auth_server):
    email = new_email()
    signed_up(auth_server, email)
    c = client(auth_server)
    events = []
    c.auth.on_auth_state_change(lambda event, session: events.append(event))
    response = c.auth.sign_in_with_password({"email": email.upper(), "password": PASSWORD})
    assert response.user.email == email and response.user.last_sign_in_at is not None
    assert events == ["SIGNED_IN"]


def test_wrong_password_and_unknown_email_answer_alike(auth_server):
    email = new_email()
    signed_up(auth_server, email)
    c = client(auth_server)
    answers = []
    for creds in ({"email": email, "password": "wrong-password"},
                  {"email": new_email("nobody"), "password": "wrong-password"}):
        started = time.perf_counter()
        with pytest.raises(AuthApiError) as info:
            c.auth.sign_in_with_password(creds)
        answers.append((info.value.status, info.value.code, info.value.message, time.perf_counter() - started))
    (s1, c1, m1, t1), (s2, c2, m2, t2) = answers
    assert (s1, c1, m1) == (s2, c2, m2) == (400, "invalid_credentials", "Invalid login credentials")
    # both paths run one bcrypt verification of the same cost: same order of magnitude
    assert 0.33 < t1 / t2 < 3


def test_duplicate_sign_up_is_user_already_exists(auth_server):
    email = new_email()
    signed_up(auth_server, email)
    with pytest.raises(AuthApiError) as info:
        signed_up(auth_server, email)
    assert (info.value.status, info.value.code) == (422, "user_already_exists")


def test_weak_password_raises_weak_password_error(auth_server):
    with pytest.raises(AuthWeakPasswordError) as info:
        signed_up(auth_server, password="short")  # the project's minimum is 8
    assert info.value.status == 422 and info.value.code == "weak_password"
    assert info.value.reasons == ["length"]


def test_invalid_email_is_validation_failed(auth_server):
    with pytest.raises(AuthApiError) as info:
        signed_up(auth_server, email="not-an-email")
    assert (info.value.status, info.value.code) == (400, "validation_failed")


def test_access_token_carries_supabase_claims(auth_server):
    _, response = signed_up(auth_server, display_name="Claims")
    token = response.session.access_token
    assert pyjwt.get_unverified_header(token)["alg"] == "HS256"
    claims = pyjwt.decode(token, auth_server.jwt_secret, algorithms=["HS256"], audience="authenticated")
    assert claims["sub"] == response.user.id and claims["role"] == "authenticated"
    assert claims["aud"] == "authenticated" and claims["exp"] - claims["iat"] == 3600
    assert claims["email"] == response.user.email and claims["phone"] == ""
    assert claims["app_metadata"]["provider"] == "email"
    assert claims["user_metadata"] == {"display_name": "Claims"}
    assert claims["aal"] == "aal1" and claims["amr"][0]["method"] == "password"
    assert claims["is_anonymous"] is False
    assert db(auth_server, "select count(*) from auth.sessions where id = $1",
              uuid.UUID(claims["session_id"]), fetch="fetchval") == 1


async def test_async_client_sign_up_sign_in_get_user(auth_server):
    email = new_email("async")
    c = await aclient(auth_server)
    events = []
    c.auth.on_auth_state_change(lambda event, session: events.append(event))
    up = await c.auth.sign_up({"email": email, "password": PASSWORD, "options": {"data": {"n": 1}}})
    assert up.session is not None and up.user.user_metadata == {"n": 1}
    await c.auth.sign_out()
    signed_in = await c.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    user = await c.auth.get_user()
    assert user.user.id == signed_in.user.id == up.user.id
    refreshed = await c.auth.refresh_session()
    assert refreshed.session.refresh_token != signed_in.session.refresh_token
    assert events == ["SIGNED_IN", "SIGNED_OUT", "SIGNED_IN", "TOKEN_REFRESHED"]
    with pytest.raises(AuthApiError) as info:
        await c.auth.sign_in_with_password({"email": email, "password": "nope-nope"})
    assert info.value.code == "invalid_credentials"



def test_failing_sign_up_trigger_answers_500_and_saves_nothing(auth_server):
    email = new_email("trigger-fails")
    db(auth_server, """create or replace function public.reject_marked() returns trigger language plpgsql as $$
                       begin
                         if new.email like 'trigger-fails-%' then raise exception 'profile check failed'; end if;
                         return new;
                       end $$;
                       drop trigger if exists reject_marked on auth.users;
                       create trigger reject_marked before insert on auth.users
                         for each row execute procedure public.reject_marked();""", fetch="execute")
    try:
        with pytest.raises(AuthApiError) as info:
            signed_up(auth_server, email)
        assert (info.value.status, info.value.code) == (500, "unexpected_failure")
        assert info.value.message == "Database error saving new user"
        assert db(auth_server, "select count(*) from auth.users where email = $1", email, fetch="fetchval") == 0
    finally:
        db(auth_server, "drop trigger if exists reject_marked on auth.users", fetch="execute")
