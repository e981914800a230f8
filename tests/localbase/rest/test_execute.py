"""The execute stage on a real PostgreSQL.

- A statement the driver cannot send (a bug in an earlier stage, as an empty PATCH once was) is a
  500, never the 503 'Retrying the connection' that clients retry; the connection stays in use.
- On a pool of one connection, so consecutive requests share a session: reads run without a
  transaction block (the context set for the session), and each request runs in its own context
  whatever the previous one left there."""

from __future__ import annotations

import uuid

import asyncpg
import orjson
import pytest

from localbase.database.pool import Database
from localbase.rest import execute
from localbase.rest.errors import RestError
from localbase.rest.sql import Statement
from tests.localbase.helpers import sql

NOTES = Statement("select coalesce(json_agg(n.body order by n.id), '[]')::text as body, count(*) as page_total "
                  "from public.notes n", [])
WHO = Statement("select current_user::text as body, current_setting('statement_timeout') as timeout, "
                "current_setting('transaction_read_only') as ro", [])


def _caller(role: str, sub: str | None = None) -> execute.Caller:
    claims = {"role": role, **({"sub": sub} if sub else {})}
    return execute.Caller(role, orjson.dumps(claims).decode(), role != "anon")


def _ctx(method: str = "GET") -> execute.Context:
    return execute.Context(method, "/notes", "{}")


@pytest.fixture
async def one_connection(localbase_server):
    socket_dir = localbase_server.data_dir / "run"
    dsn = f"postgresql://authenticator@/postgres?host={socket_dir}&port={localbase_server.db_port}"
    db = Database(dsn, localbase_server.db_url, localbase_server.db_url, rest_pool_size=1)
    await db.open()
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
def two_users(localbase_server, make_user):
    (a, _), (b, _) = make_user(), make_user()
    sql(localbase_server, "insert into notes (owner_id, body) values ($1, 'a1'), ($1, 'a2'), ($2, 'b1')",
        uuid.UUID(a), uuid.UUID(b))
    return a, b


async def test_a_direct_connection_reads_without_a_transaction_block(one_connection):
    assert one_connection.session_reads  # the embedded PostgreSQL, no pooler in between
    row, _ = await execute.run(one_connection, _caller("authenticated", str(uuid.uuid4())), _ctx(), WHO,
                               read_only=True)
    assert (row["body"], row["ro"]) == ("authenticated", "on")
    async with one_connection.rest_pool.acquire() as conn:  # the read's context stayed on the session
        assert await conn.fetchval("select current_user::text") == "authenticated"


async def test_each_read_sees_only_its_callers_rows(one_connection, two_users):
    a, b = two_users
    for caller, expected in [(_caller("authenticated", a), ["a1", "a2"]), (_caller("authenticated", b), ["b1"]),
                             (_caller("anon"), []), (_caller("authenticated", a), ["a1", "a2"])]:
        row, _ = await execute.run(one_connection, caller, _ctx(), NOTES, read_only=True)
        assert orjson.loads(row["body"]) == expected


async def test_a_write_after_a_read_is_read_write_and_as_its_own_caller(one_connection, two_users):
    a, b = two_users
    await execute.run(one_connection, _caller("authenticated", a), _ctx(), NOTES, read_only=True)
    insert = Statement("insert into public.notes (body) values ('b2') returning owner_id::text as body", [])
    row, _ = await execute.run(one_connection, _caller("authenticated", b), _ctx("POST"), insert, read_only=False)
    assert row["body"] == b
    with pytest.raises(RestError) as refused:  # and a read after it is read-only again
        await execute.run(one_connection, _caller("authenticated", b), _ctx(), insert, read_only=True)
    assert refused.value.code == "25006"


async def test_a_roles_statement_timeout_applies_to_its_reads_and_no_further(one_connection):
    settings = {"service_role": {"statement_timeout": "1234ms"}}
    timeouts = []
    for role in ("service_role", "anon", "service_role"):
        row, _ = await execute.run(one_connection, _caller(role), _ctx(), WHO, read_only=True, role_settings=settings)
        timeouts.append(row["timeout"])
    assert timeouts == ["1234ms", one_connection.rest_statement_timeout, "1234ms"]


async def test_a_write_after_a_read_does_not_inherit_the_reads_statement_timeout(one_connection):
    settings = {"anon": {"statement_timeout": "1234ms"}}
    row, _ = await execute.run(one_connection, _caller("anon"), _ctx(), WHO, read_only=True, role_settings=settings)
    assert row["timeout"] == "1234ms"
    row, _ = await execute.run(one_connection, _caller("service_role"), _ctx("POST"), WHO, read_only=False,
                               role_settings=settings)
    assert row["timeout"] == one_connection.rest_statement_timeout


async def test_a_failed_read_leaves_nothing_behind(one_connection, two_users):
    a, _ = two_users
    broken = Statement("select 1/0 as body", [])
    with pytest.raises(RestError):
        await execute.run(one_connection, _caller("authenticated", a), _ctx(), broken, read_only=True)
    row, _ = await execute.run(one_connection, _caller("anon"), _ctx(), NOTES, read_only=True)
    assert orjson.loads(row["body"]) == []


async def test_a_pre_request_function_keeps_reads_in_a_transaction(one_connection):
    ctx = execute.Context("GET", "/notes", "{}", pre_request='"pg_catalog"."txid_current_if_assigned"')
    assert not execute.session_reads(one_connection, ctx)
    row, _ = await execute.run(one_connection, _caller("anon"), ctx, WHO, read_only=True)
    assert (row["body"], row["ro"]) == ("anon", "on")


async def test_session_facts_of_a_direct_connection(localbase_server):
    from localbase.database.pool import session_facts
    conn = await asyncpg.connect(localbase_server.db_url)
    try:
        direct, timeout = await session_facts(conn)
    finally:
        await conn.close()
    assert direct and timeout == "0"


async def test_a_statement_the_driver_refuses_is_a_500_not_a_retryable_503(localbase_server):
    db = Database(localbase_server.db_url, localbase_server.db_url, localbase_server.db_url, rest_pool_size=2)
    await db.open()
    try:
        caller = execute.caller_from(None, localbase_server.jwt_secret)
        ctx = execute.Context("PATCH", "/people", "{}")
        with pytest.raises(RestError) as info:  # one bind parameter in the SQL, none passed
            await execute.run(db, caller, ctx, Statement("select $1::int as page_total", []), read_only=True)
        assert (info.value.status, info.value.code) == (500, "PGRST000")
        row, _ = await execute.run(db, caller, ctx, Statement("select 1 as page_total", []), read_only=True)
        assert row["page_total"] == 1  # and the pool still serves
    finally:
        await db.close()
