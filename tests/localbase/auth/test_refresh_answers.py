"""The answers of a refresh and of a user read stay byte for byte what they were before the user's
identities, factors and AMR were built as json rather than jsonb and the refresh's row was used as it is
(rather than copied into a dict): the previous statements are kept here as the reference, and both paths
run on the server's database in one transaction (the same now(), rolled back to a savepoint between
them), for a user with identities, factors, nested metadata and a second factor in the session, with and
without a custom access token hook. The rows each path leaves are compared too."""

from __future__ import annotations

import dataclasses
import time
import types
import uuid
from typing import Any

import asyncpg
import pytest

from localbase.auth import sessions, tokens, users
from localbase.auth.config import load_auth_config
from localbase.auth.context import json
from localbase.database.pool import init_connection
from localbase.security import jwt
from localbase.settings import load_settings
from tests.localbase.auth.conftest import PROJECT, signed_up

# users.USER_SELECT as it was: its columns, then identities and factors built as jsonb (keys in jsonb's order)
_COLUMNS_END = users.USER_SELECT.index("       coalesce((select json_agg(")
PREVIOUS_USER_SELECT = users.USER_SELECT[:_COLUMNS_END] + """\
       coalesce((select jsonb_agg(jsonb_build_object(
                  'identity_id', i.id, 'id', i.provider_id, 'user_id', i.user_id,
                  'identity_data', i.identity_data, 'provider', i.provider,
                  'last_sign_in_at', i.last_sign_in_at, 'created_at', i.created_at,
                  'updated_at', i.updated_at, 'email', i.email) order by i.created_at)
                 from auth.identities i where i.user_id = u.id), '[]'::jsonb) as identities,
       (select jsonb_agg(jsonb_build_object(
                  'id', f.id, 'friendly_name', f.friendly_name, 'factor_type', f.factor_type,
                  'status', f.status, 'created_at', f.created_at, 'updated_at', f.updated_at)
                  order by f.created_at)
          from auth.mfa_factors f where f.user_id = u.id) as factors
from auth.users u
"""
# sessions.REFRESH as it was: its AMR built as jsonb, the user read by PREVIOUS_USER_SELECT
PREVIOUS_REFRESH = (
    sessions.REFRESH
    .replace(users.USER_SELECT, PREVIOUS_USER_SELECT)
    .replace("coalesce(json_agg(json_build_object(", "coalesce(jsonb_agg(jsonb_build_object("))
PREVIOUS_REFRESH_COLUMNS = ("refresh_verdict", "token_session_id", "session_amr")
CHILD = "fixed-child-token"


async def _previous_refresh(conn: asyncpg.Connection, config: Any, presented: str) -> dict[str, Any]:
    """sessions.refresh with a rotation, as it was (the row copied into a dict, less REFRESH's columns)."""
    args = (tokens.digest(presented), tokens.digest(CHILD), True, float(config.refresh_token_reuse_interval))
    async with conn.transaction():
        found = await conn.fetchrow(PREVIOUS_REFRESH, *args)
        assert found["refresh_verdict"] == "ok"
        user = {k: v for k, v in found.items() if k not in PREVIOUS_REFRESH_COLUMNS}
        return await sessions.session_json(conn, config, user, found["token_session_id"], CHILD,
                                           found["session_amr"], "token_refresh")


async def _rows(conn: asyncpg.Connection, user_id: str) -> list[str]:
    """What a refresh writes, as text (the child's id left out: a sequence is not rolled back)."""
    return [r[0] for r in await conn.fetch(
        """select (to_jsonb(rt) - 'id')::text from auth.refresh_tokens rt where user_id = $1
           union all select to_jsonb(s)::text from auth.sessions s where user_id = $1::uuid
           union all select to_jsonb(c)::text from auth.mfa_amr_claims c
                     join auth.sessions s on s.id = c.session_id where s.user_id = $1::uuid
           order by 1""", user_id)]


async def _user_with_everything(conn: asyncpg.Connection, user_id: str, session_id: str) -> None:
    """A second identity (nested data, unicode, numbers as written), two factors and a second factor
    verified in the session (aal2); the microseconds of the timestamps end in zeros."""
    uid = uuid.UUID(user_id)
    await conn.execute(
        """insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at,
               created_at, updated_at)
           values ('gh-42', $1, $2::jsonb, 'github', now(), now() + interval '1 second',
                   '2026-01-02 03:04:05.120000+00')""",
        uid, '{"sub": "gh-42", "name": "Zoë \\"Z\\" Ünal", "score": 1.50, "big": 9007199254740993, '
             '"nested": {"b": [1, {"c": null}], "a": true}, "email": "Zoe@Example.com"}')
    await conn.execute(
        """insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at)
           values (gen_random_uuid(), $1, 'phone one', 'totp', 'verified', '2026-01-02 03:04:05+00', now()),
                  (gen_random_uuid(), $1, null, 'phone', 'unverified', now(), now())""", uid)
    await conn.execute(
        "insert into auth.mfa_amr_claims (session_id, created_at, updated_at, authentication_method, id) "
        "values ($1, now() + interval '2 seconds', now(), 'totp', gen_random_uuid())", uuid.UUID(session_id))
    await conn.execute(
        """update auth.users set raw_app_meta_data = raw_app_meta_data || '{"roles": ["a", "b"], "tier": 2}',
               phone = '15551234567', phone_confirmed_at = now() where id = $1""", uid)


@pytest.mark.parametrize("hooked", [False, True], ids=["no hook", "access token hook"])
async def test_refresh_and_user_answers_are_unchanged(auth_server, monkeypatch, hooked):
    _, response = signed_up(auth_server, plan="pro", nested={"z": 1, "a": [None, "ü", 2.50]}, empty={})
    user_id, presented = response.user.id, response.session.refresh_token
    session_id = jwt.verify(response.session.access_token, auth_server.jwt_secret)["session_id"]
    config = load_auth_config(load_settings(PROJECT, data_dir=auth_server.data_dir))
    hook = f"hook_{uuid.uuid4().hex[:8]}"
    if hooked:
        config = dataclasses.replace(config, access_token_hook=("public", hook))
    monkeypatch.setattr(tokens, "new_refresh_token", lambda: CHILD)
    now = int(time.time())
    monkeypatch.setattr(tokens, "time", types.SimpleNamespace(time=lambda: now))  # iat and exp

    conn = await asyncpg.connect(auth_server.db_url)
    try:
        await init_connection(conn)
        async with conn.transaction():  # rolled back at the end: the server's database is left as it was
            if hooked:
                await conn.execute(
                    f"""create function public.{hook}(event jsonb) returns jsonb language sql stable as $$
                          select jsonb_build_object('claims', event -> 'claims' || jsonb_build_object(
                            'method', event -> 'authentication_method', 'roles',
                            event #> '{{claims,app_metadata,roles}}'))
                        $$""")
            await _user_with_everything(conn, user_id, session_id)

            point = conn.transaction()
            await point.start()
            before = await _previous_refresh(conn, config, presented)
            before_rows = await _rows(conn, user_id)
            before_user = await conn.fetchrow(PREVIOUS_USER_SELECT + " where u.id = $1", uuid.UUID(user_id))
            await point.rollback()

            after = await sessions.refresh(conn, config, presented)
            after_rows = await _rows(conn, user_id)
            after_user = await users.by_id(conn, user_id)
            raise _RollBack
    except _RollBack:
        pass
    finally:
        await conn.close()

    assert json(after).body == json(before).body
    assert after_rows == before_rows
    assert json(users.to_json(after_user)).body == json(users.to_json(dict(before_user))).body
    # what was compared holds what it should: identities, factors, metadata and the aal2 claims
    answer = before["user"]
    assert [i["provider"] for i in answer["identities"]] == ["email", "github"]
    assert list(answer["identities"][1]) == ["id", "email", "user_id", "provider", "created_at", "updated_at",
                                             "identity_id", "identity_data", "last_sign_in_at"]
    assert [f["factor_type"] for f in answer["factors"]] == ["totp", "phone"]
    assert answer["user_metadata"]["nested"] == {"z": 1, "a": [None, "ü", 2.5]}
    claims = jwt.verify(before["access_token"], auth_server.jwt_secret)
    assert claims["aal"] == "aal2" and [a["method"] for a in claims["amr"]] == ["password", "totp"]
    assert ("roles" in claims and claims["method"] == "token_refresh") is hooked


class _RollBack(Exception):
    """Leaves the test's transaction rolled back."""
