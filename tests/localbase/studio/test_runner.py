"""The SQL editor's runner ("run as") against the test server's database: the role, the claims and
the role's statement_timeout it sets are exactly what REST sets for the same caller's request (both
asked by one function, public.whoami()); a user's claims are those the auth service signs at
sign-in; a script is one transaction."""

from __future__ import annotations

import asyncpg
import httpx
import orjson
import pytest

from localbase.database.cluster import Cluster
from localbase.rest.schema_cache import introspect
from localbase.security import jwt
from localbase.settings import load_settings
from localbase.studio import callers, runner
from tests.localbase.helpers import sql
from tests.localbase.studio.conftest import PASSWORD, PROJECT, unique


@pytest.fixture
async def env(studio_server):
    settings = load_settings(PROJECT, data_dir=studio_server.data_dir, db_port=studio_server.db_port,
                             port=studio_server.port)
    db = Cluster(settings).database(rest_pool_size=2)
    await db.open()
    owner = await asyncpg.create_pool(studio_server.db_url, min_size=1, max_size=2)
    try:
        yield settings, db, owner
    finally:
        await owner.close()
        await db.close()


async def via_rest(server, token: str) -> dict:
    async with httpx.AsyncClient() as client:
        r = await client.post(f"{server.url}/rest/v1/rpc/whoami", json={},
                              headers={"apikey": server.anon_key, "authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()


async def via_runner(settings, db, owner, token: str) -> dict:
    caller = callers.caller_of(token, settings)
    async with owner.acquire() as conn:  # REST's schema cache, as the API loads it
        schema = await introspect(conn, settings.api_schemas)
    outcome = await runner.run(db, owner, "select public.whoami()", caller, role_settings=schema.role_settings,
                               ctx=runner.context(schema, settings.extra_search_path))
    assert outcome.error is None, outcome.error
    value = outcome.rows[0][0]
    return orjson.loads(value) if isinstance(value, str) else value


@pytest.mark.parametrize("role", ["anon", "service_role", "user"])
async def test_role_and_claims_are_set_as_rest_sets_them(env, studio_server, make_user, role):
    settings, db, owner = env
    user_id = make_user("runner")[0] if role == "user" else ""
    identity = callers.Identity.parse(role, user_id)
    token = await callers.token_for(identity, settings, db.auth_pool)
    studio = await via_runner(settings, db, owner, token)
    rest = await via_rest(studio_server, token)
    assert studio == rest
    assert studio["role"] == {"anon": "anon", "service_role": "service_role", "user": "authenticated"}[role]
    if role == "user":
        assert studio["uid"] == user_id and studio["claims"]["sub"] == user_id
    if role == "anon":
        assert studio["statement_timeout"] == "3s"  # the role's own timeout, as REST applies it
    assert studio["search_path"] == '"public", "public", "extensions"'  # as PostgREST sets it


async def test_a_users_claims_are_those_of_a_sign_in(env, studio_server, make_user):
    """What Studio mints for "run as" carries the claims the auth service signs after a password
    sign-in (all but the times and the session)."""
    settings, db, _ = env
    user_id, email = make_user("claims")
    async with httpx.AsyncClient() as client:
        r = await client.post(f"{studio_server.url}/auth/v1/token?grant_type=password",
                              json={"email": email, "password": PASSWORD}, headers={"apikey": studio_server.anon_key})
    signed_in = jwt.verify(r.json()["access_token"], settings.jwt_secret)
    minted = jwt.verify(await callers.user_token(settings, db.auth_pool, user_id), settings.jwt_secret)
    moving = ("exp", "iat", "session_id", "amr")
    assert {k: v for k, v in minted.items() if k not in moving} == \
        {k: v for k, v in signed_in.items() if k not in moving}
    assert [a["method"] for a in minted["amr"]] == ["password"] and minted["aal"] == "aal1"


async def test_the_owner_runs_without_a_role_switch(env):
    settings, db, owner = env
    outcome = await runner.run(db, owner, "select current_user, current_setting('request.jwt.claims', true)", None)
    assert outcome.rows == [("postgres", None)] or outcome.rows == [("postgres", "")]


async def test_a_script_is_one_transaction(env, studio_server):
    settings, db, owner = env
    title = unique("tx")
    outcome = await runner.run(db, owner, f"insert into notes (title) values ('{title}');\nselect 1/0;", None)
    assert outcome.error is not None and outcome.error.code == "22012" and outcome.error.statement == 2
    assert outcome.rolled_back
    assert sql(studio_server, "select count(*) from notes where title = $1", title)[0]["count"] == 0
    outcome = await runner.run(db, owner, f"insert into notes (title) values ('{title}') returning title", None,
                               rollback=True)
    assert outcome.rows == [(title,)] and outcome.rolled_back
    assert sql(studio_server, "select count(*) from notes where title = $1", title)[0]["count"] == 0
    outcome = await runner.run(db, owner, f"insert into notes (title) values ('{title}')", None)
    assert outcome.status == "INSERT 0 1" and not outcome.rolled_back
    assert sql(studio_server, "select count(*) from notes where title = $1", title)[0]["count"] == 1


async def test_first_rows_only(env):
    settings, db, owner = env
    outcome = await runner.run(db, owner, "select g from generate_series(1, 50) g", None, row_limit=10)
    assert [r[0] for r in outcome.rows] == list(range(1, 11)) and outcome.truncated
    assert outcome.columns == ["g"] and outcome.types == ["int4"]


async def test_a_users_rows_only(env, studio_server, make_user):
    settings, db, owner = env
    ann, _ = make_user("rows")
    tag = unique("mine")
    sql(studio_server, "insert into notes (owner, title) values ($1::uuid, $2), (null, $3)", ann, tag, tag + "-x")
    caller = await callers.caller_for(callers.Identity.parse("user", ann), settings, db.auth_pool)
    outcome = await runner.run(db, owner, f"select title from notes where title like '{tag}%'", caller)
    assert outcome.rows == [(tag,)]
    with pytest.raises(ValueError):
        callers.Identity.parse("user", "")
    with pytest.raises(callers.UnknownUser):
        await callers.caller_for(callers.Identity.parse("user", "00000000-0000-0000-0000-000000000001"),
                                 settings, db.auth_pool)
