"""A refresh is one statement, so one transaction and one round trip (issue 14): the token, its session,
AMR and user read, the verdict reached and the rotation (or the family's revocation) done at once.
Counted on the wire, on the server's database, with the server's own auth settings; the answer is then
checked through the API, and the locking under concurrent refreshes of one token on the real database."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from localbase.auth import errors, sessions, tokens
from localbase.auth.config import load_auth_config
from localbase.database.pool import init_connection
from localbase.security import jwt
from localbase.settings import load_settings
from tests.localbase.auth.conftest import PROJECT, client, db, signed_up

REFRESH = " ".join(sessions.REFRESH.split())


async def _refresh_counted(server, token: str, seen: list[str] | None = None) -> tuple[dict, list[str]]:
    """sessions.refresh on the server's database; `seen` gets the statements sent, as sent."""
    config = load_auth_config(load_settings(PROJECT, data_dir=server.data_dir))
    conn = await asyncpg.connect(server.db_url)
    seen = [] if seen is None else seen
    conn.add_query_logger(lambda record: seen.append(" ".join(record.query.split())))
    try:
        await init_connection(conn)
        seen.clear()
        return await sessions.refresh(conn, config, token), seen
    finally:
        await conn.close()


async def test_a_refresh_is_one_statement(auth_server):
    _, response = signed_up(auth_server)
    answer, seen = await _refresh_counted(auth_server, response.session.refresh_token)
    assert seen == [REFRESH]  # no BEGIN, no COMMIT: the statement is its own transaction
    claims = jwt.verify(answer["access_token"], auth_server.jwt_secret)
    assert claims["sub"] == response.user.id and [a["method"] for a in claims["amr"]] == ["password"]
    assert claims["session_id"] == jwt.verify(response.session.access_token, auth_server.jwt_secret)["session_id"]
    assert str(answer["user"]["id"]) == response.user.id and answer["user"]["identities"]
    # the child works through the API, and the spent parent is recorded as its parent
    refreshed = client(auth_server).auth.refresh_session(answer["refresh_token"])
    assert refreshed.user.id == response.user.id
    parent = db(auth_server, "select parent from auth.refresh_tokens where token = $1",
                tokens.digest(answer["refresh_token"]), fetch="fetchval")
    assert parent == tokens.digest(response.session.refresh_token)
    rows = db(auth_server, "select count(*) from auth.refresh_tokens rt join auth.sessions s on s.id = rt.session_id "
                           "where s.user_id = $1 and not rt.revoked", response.user.id, fetch="fetchval")
    assert rows == 1  # one live token per session: each refresh spent its parent


async def test_reuse_of_a_spent_token_revokes_the_family_in_one_statement(auth_server):
    _, response = signed_up(auth_server)
    spent = response.session.refresh_token
    child, _ = await _refresh_counted(auth_server, spent)
    db(auth_server, "update auth.refresh_tokens set updated_at = now() - interval '1 hour' "
                    "where revoked and user_id = $1", response.user.id, fetch="execute")  # past the reuse interval
    seen: list[str] = []
    with pytest.raises(errors.AuthError) as refused:
        await _refresh_counted(auth_server, spent, seen)
    assert refused.value.error_code == "refresh_token_already_used"
    assert seen == [REFRESH]
    live = db(auth_server, "select count(*) from auth.refresh_tokens where user_id = $1 and not revoked",
              response.user.id, fetch="fetchval")
    assert live == 0  # the child too: the whole family is revoked (committed, though the refresh failed)
    ended = db(auth_server, "select not_after <= now() from auth.sessions where user_id = $1", response.user.id,
               fetch="fetchval")
    assert ended
    with pytest.raises(errors.AuthError) as again:
        await _refresh_counted(auth_server, child["refresh_token"])
    assert again.value.error_code == "refresh_token_already_used"


async def test_refused_refreshes_write_nothing(auth_server):
    """An unknown token, a banned user and an ended session are refused by the same statement, which then
    changes no row."""
    with pytest.raises(errors.AuthError) as unknown:
        await _refresh_counted(auth_server, "not-a-token")
    assert unknown.value.error_code == "refresh_token_not_found"
    _, response = signed_up(auth_server)
    token, uid = response.session.refresh_token, response.user.id
    db(auth_server, "update auth.users set banned_until = now() + interval '1 hour' where id = $1", uid,
       fetch="execute")
    with pytest.raises(errors.AuthError) as banned:
        await _refresh_counted(auth_server, token)
    assert banned.value.error_code == "user_banned"
    db(auth_server, "update auth.users set banned_until = null where id = $1", uid, fetch="execute")
    db(auth_server, "update auth.sessions set not_after = now() - interval '1 second' where user_id = $1", uid,
       fetch="execute")
    with pytest.raises(errors.AuthError) as expired:
        await _refresh_counted(auth_server, token)
    assert expired.value.error_code == "session_expired"
    state = db(auth_server, "select count(*) filter (where revoked) revoked, count(*) total from auth.refresh_tokens "
                            "where user_id = $1", uid, fetch="fetchrow")
    assert (state["revoked"], state["total"]) == (0, 1)


async def test_concurrent_refreshes_of_one_token_each_get_a_child(auth_server):
    """Several refreshes of one token at once (a client retrying): the token's row lock orders them; the
    first spends it, the others see it spent within the reuse interval and get children of their own."""
    _, response = signed_up(auth_server)
    spent = response.session.refresh_token
    answers = await asyncio.gather(*(_refresh_counted(auth_server, spent) for _ in range(4)))
    children = {a["refresh_token"] for a, _ in answers}
    assert len(children) == 4 and spent not in children
    rows = db(auth_server, "select token, revoked, parent from auth.refresh_tokens where user_id = $1",
              response.user.id)
    by_token = {r["token"]: r for r in rows}
    assert by_token[tokens.digest(spent)]["revoked"]
    kids = [by_token[tokens.digest(c)] for c in children]
    assert all(not kid["revoked"] and kid["parent"] == tokens.digest(spent) for kid in kids)
