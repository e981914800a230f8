"""Sessions: refresh with rotation, reuse detection revoking the family, set_session, sign-out
scopes, banned and deleted users, and the auth state events the client emits."""

from __future__ import annotations

import time
import uuid

import pytest
from supabase_auth.errors import AuthApiError

from tests.localbase.auth.conftest import PASSWORD, admin, client, db, new_email, signed_up


def _refresh(server, token: str):
    return client(server).auth.refresh_session(token)


def test_refresh_rotates_the_refresh_token(auth_server):
    c, response = signed_up(auth_server)
    first = response.session
    refreshed = c.auth.refresh_session()
    assert refreshed.session.refresh_token != first.refresh_token
    assert refreshed.user.id == first.user.id
    assert refreshed.session.access_token != first.access_token or refreshed.session.expires_at >= first.expires_at
    # the database keeps a digest, never the token itself
    stored = db(auth_server, "select token from auth.refresh_tokens where user_id = $1", first.user.id)
    assert stored and all(r["token"] not in (first.refresh_token, refreshed.session.refresh_token) for r in stored)


def test_reuse_within_interval_is_tolerated_after_it_revokes_the_family(auth_server):
    _, response = signed_up(auth_server)
    spent = response.session.refresh_token
    child = _refresh(auth_server, spent).session.refresh_token
    # a client that lost the answer may retry within refresh_token_reuse_interval (2 s here)
    retry = _refresh(auth_server, spent).session.refresh_token
    assert retry not in (spent, child)
    time.sleep(2.5)
    with pytest.raises(AuthApiError) as info:
        _refresh(auth_server, spent)
    assert (info.value.status, info.value.code) == (400, "refresh_token_already_used")
    # the whole family is revoked: even the newest tokens no longer refresh
    for token in (child, retry):
        with pytest.raises(AuthApiError) as info:
            _refresh(auth_server, token)
        assert info.value.code == "refresh_token_already_used"


def test_unknown_refresh_token(auth_server):
    with pytest.raises(AuthApiError) as info:
        _refresh(auth_server, "not-a-token")
    assert (info.value.status, info.value.code) == (400, "refresh_token_not_found")


def test_set_session_with_valid_and_expired_access_token(auth_server):
    _, response = signed_up(auth_server)
    s = response.session
    c = client(auth_server)
    events = []
    c.auth.on_auth_state_change(lambda event, session: events.append(event))
    result = c.auth.set_session(s.access_token, s.refresh_token)
    assert result.user.id == s.user.id and c.auth.get_session().access_token == s.access_token
    # an expired access token makes the client refresh with the refresh token
    import jwt as pyjwt
    claims = pyjwt.decode(s.access_token, auth_server.jwt_secret, algorithms=["HS256"], audience="authenticated")
    claims.update(exp=int(time.time()) - 10, iat=int(time.time()) - 100)
    expired = pyjwt.encode(claims, auth_server.jwt_secret, algorithm="HS256")
    result = c.auth.set_session(expired, s.refresh_token)
    assert result.session.refresh_token != s.refresh_token
    assert events == ["SIGNED_IN", "TOKEN_REFRESHED"]


def _three_sessions(server):
    email = new_email()
    signed_up(server, email)
    clients = [client(server) for _ in range(3)]
    sessions = [c.auth.sign_in_with_password({"email": email, "password": PASSWORD}).session for c in clients]
    return clients, sessions


def _alive(server, session) -> bool:
    try:
        client(server).auth.get_user(session.access_token)
        return True
    except AuthApiError as exc:
        assert (exc.status, exc.code) == (403, "session_not_found")
        return False


def test_sign_out_local_ends_only_this_session(auth_server):
    clients, sessions = _three_sessions(auth_server)
    events = []
    clients[0].auth.on_auth_state_change(lambda event, session: events.append(event))
    clients[0].auth.sign_out({"scope": "local"})
    assert events == ["SIGNED_OUT"] and clients[0].auth.get_session() is None
    assert [_alive(auth_server, s) for s in sessions] == [False, True, True]
    with pytest.raises(AuthApiError) as info:
        _refresh(auth_server, sessions[0].refresh_token)
    assert info.value.code == "refresh_token_not_found"
    assert _refresh(auth_server, sessions[1].refresh_token).session is not None


def test_sign_out_others_keeps_this_session(auth_server):
    clients, sessions = _three_sessions(auth_server)
    clients[0].auth.sign_out({"scope": "others"})
    assert clients[0].auth.get_session() is not None
    assert [_alive(auth_server, s) for s in sessions] == [True, False, False]


def test_sign_out_global_ends_every_session(auth_server):
    clients, sessions = _three_sessions(auth_server)
    clients[1].auth.sign_out()
    assert [_alive(auth_server, s) for s in sessions] == [False, False, False]
    for s in sessions:
        with pytest.raises(AuthApiError):
            _refresh(auth_server, s.refresh_token)


def test_banned_user_cannot_sign_in_or_refresh(auth_server):
    email = new_email()
    _, response = signed_up(auth_server, email)
    admin(auth_server).auth.admin.update_user_by_id(response.user.id, {"ban_duration": "24h"})
    with pytest.raises(AuthApiError) as info:
        _refresh(auth_server, response.session.refresh_token)
    assert info.value.status == 400
    with pytest.raises(AuthApiError) as info:
        client(auth_server).auth.sign_in_with_password({"email": email, "password": PASSWORD})
    assert info.value.code == "user_banned"
    unbanned = admin(auth_server).auth.admin.update_user_by_id(response.user.id, {"ban_duration": "none"})
    assert unbanned.user.banned_until is None
    assert client(auth_server).auth.sign_in_with_password({"email": email, "password": PASSWORD}).session


def test_deleted_user_cannot_refresh_or_use_token(auth_server):
    _, response = signed_up(auth_server)
    admin(auth_server).auth.admin.delete_user(response.user.id)
    with pytest.raises(AuthApiError) as info:
        _refresh(auth_server, response.session.refresh_token)
    assert info.value.code == "refresh_token_not_found"
    with pytest.raises(AuthApiError) as info:
        client(auth_server).auth.get_user(response.session.access_token)
    assert (info.value.status, info.value.code) == (403, "user_not_found")


def test_auth_state_events_in_order(auth_server):
    email = new_email()
    c = client(auth_server)
    events = []
    c.auth.on_auth_state_change(lambda event, session: events.append((event, session is not None)))
    c.auth.sign_up({"email": email, "password": PASSWORD})
    c.auth.refresh_session()
    c.auth.update_user({"data": {"step": 3}})
    c.auth.sign_out()
    assert events == [("SIGNED_IN", True), ("TOKEN_REFRESHED", True), ("USER_UPDATED", True),
                      ("SIGNED_OUT", False)]
    assert db(auth_server, "select count(*) from auth.sessions s join auth.users u on u.id = s.user_id "
              "where u.email = $1", email, fetch="fetchval") == 0


def test_refresh_keeps_session_id_and_amr(auth_server):
    import jwt as pyjwt
    _, response = signed_up(auth_server)
    refreshed = _refresh(auth_server, response.session.refresh_token).session
    decode = lambda t: pyjwt.decode(t, auth_server.jwt_secret, algorithms=["HS256"], audience="authenticated")  # noqa: E731
    before, after = decode(response.session.access_token), decode(refreshed.access_token)
    assert before["session_id"] == after["session_id"] and after["amr"] == before["amr"]
    assert uuid.UUID(after["session_id"])


def test_jwks_is_public_and_empty_for_a_shared_secret(auth_server):
    import httpx
    r = httpx.get(f"{auth_server.url}/auth/v1/.well-known/jwks.json")
    assert r.status_code == 200 and r.json() == {"keys": []}
