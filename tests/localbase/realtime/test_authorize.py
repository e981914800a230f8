"""The authorize stage (realtime/authorize.py) on a real PostgreSQL: subscriber contexts are told
to an authorization connection once and then named by number; what each may see is decided by
realtime.visible_each as before."""

from __future__ import annotations

import uuid

import asyncpg
import orjson
import pytest

from localbase.realtime import authorize
from localbase.realtime.authorize import Authorizer, init_authorize_connection
from localbase.realtime.pgoutput import Relation, RowChange


@pytest.fixture
async def admin(realtime_server):
    conn = await asyncpg.connect(realtime_server.db_url)
    await init_authorize_connection(conn)
    await conn.execute("set role supabase_realtime_admin")
    yield conn
    await conn.close()


def identity(uid: str) -> tuple:
    return ("authenticated", orjson.dumps({"sub": uid, "role": "authenticated"}).decode(), uid, "authenticated", "")


async def check(authorizer: Authorizer, relid: int, owners: list[str], contexts: list[tuple]) -> list[list[int]]:
    rel = Relation(relid=relid, schema="public", table="notes", replica_identity="f", columns=[])
    changes = [RowChange(relation=rel, kind="INSERT", new={"id": str(k + 1), "owner_id": o, "title": "t",
                                                           "score": "0", "tags": "{}"}, old=None)
               for k, o in enumerate(owners)]
    return (await authorizer.evaluate(changes, contexts, [])).visible


async def told(conn) -> int:
    return await conn.fetchval("select count(*) from pg_temp.realtime_contexts")


async def test_contexts_are_told_once_and_forgotten_past_the_limit(admin, monkeypatch):
    relid = await admin.fetchval("select 'public.notes'::regclass::oid")
    authorizer = Authorizer(admin)
    users = [str(uuid.uuid4()) for _ in range(4)]
    first = [identity(u) for u in users[:2]]
    assert await check(authorizer, relid, [users[1], users[0]], first) == [[1], [0]]
    assert await check(authorizer, relid, [users[0]], first + first[:1]) == [[0], [], [0]]
    assert await told(admin) == 2  # the same contexts again: nothing more told
    monkeypatch.setattr(authorize, "TOLD_AT_MOST", 3)
    others = [identity(u) for u in users[2:]]
    assert await check(authorizer, relid, [users[3], users[1]], others) == [[], [0]]
    assert await told(admin) == 2  # over the limit: forgotten, then these two told
    assert await check(authorizer, relid, [users[0]], first) == [[0], []]


async def test_a_number_the_connection_was_not_told_is_an_error(admin):
    relid = await admin.fetchval("select 'public.notes'::regclass::oid")
    await admin.fetchval(authorize.REMEMBER, [1], *([v] for v in identity(str(uuid.uuid4()))))
    with pytest.raises(asyncpg.RaiseError, match="not told"):
        await admin.fetchval(authorize.VISIBLE, relid, ['{"id": "1"}'], [1, 2])
    with pytest.raises(asyncpg.UniqueViolationError):  # a number is never told twice
        await admin.fetchval(authorize.REMEMBER, [1], *([v] for v in identity(str(uuid.uuid4()))))
