"""A refresh is one transaction of two statements (issue 14): the token, its session, AMR and user
read at once, then the rotation in one statement. Counted on the wire, on the server's database,
with the server's own auth settings; the answer is then checked through the API."""

from __future__ import annotations

import asyncpg
import pytest

from localbase.auth import errors, sessions
from localbase.auth.config import load_auth_config
from localbase.database.pool import _init_connection
from localbase.security import jwt
from localbase.settings import load_settings
from tests.localbase.auth.conftest import PROJECT, client, db, signed_up


async def _refresh_counted(server, token: str, seen: list[str] | None = None) -> tuple[dict, list[str]]:
    """sessions.refresh on the server's database; `seen` gets the statements sent, as sent."""
    config = load_auth_config(load_settings(PROJECT, data_dir=server.data_dir))
    conn = await asyncpg.connect(server.db_url)
    seen = [] if seen is None else seen
    conn.add_query_logger(lambda record: seen.append(" ".join(record.query.split())))
    try:
        await _init_connection(conn)
        seen.clear()
        return await sessions.refresh(conn, config, token), seen
    finally:
        await conn.close()


async def test_a_refresh_is_two_statements_in_one_transaction(auth_server):
    _, response = signed_up(auth_server)
    answer, seen = await _refresh_counted(auth_server, response.session.refresh_token)
    assert seen == ["BEGIN;", " ".join(sessions.REFRESH_SELECT.split()), " ".join(sessions.REFRESH_ROTATE.split()),
                    "COMMIT;"]
    claims = jwt.verify(answer["access_token"], auth_server.jwt_secret)
    assert claims["sub"] == response.user.id and [a["method"] for a in claims["amr"]] == ["password"]
    assert str(answer["user"]["id"]) == response.user.id and answer["user"]["identities"]
    # the child works through the API, the spent parent is refused after the reuse interval elsewhere
    refreshed = client(auth_server).auth.refresh_session(answer["refresh_token"])
    assert refreshed.user.id == response.user.id
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
    assert seen == ["BEGIN;", " ".join(sessions.REFRESH_SELECT.split()), " ".join(sessions.REVOKE_FAMILY.split()),
                    "COMMIT;"]
    live = db(auth_server, "select count(*) from auth.refresh_tokens where user_id = $1 and not revoked",
              response.user.id, fetch="fetchval")
    assert live == 0  # the child too: the whole family is revoked
    with pytest.raises(errors.AuthError) as again:
        await _refresh_counted(auth_server, child["refresh_token"])
    assert again.value.error_code == "refresh_token_already_used"
