"""What an idle server keeps open in PostgreSQL (issue 14, idle memory): no authorization
connection until the first postgres_changes subscriber, and none again a while after the last
one left ([realtime] authorize_idle_seconds, 1 s here); the start-up queries' connections closed;
the member session named in localbase.nodes is the one that stays. Subscribers before, between
and after see exactly what the policies let them see.

A server of its own (the session's realtime_server has had subscribers); the own-row policy on
`notes` is in migrations/20250301000000_batched_authorization.sql."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
import pytest

from localbase.testing.plugin import localbase_fixture
from tests.localbase.realtime.conftest import PROJECT, client, new_user, subscribed, topic

IDLE_SECONDS = 1.0
AUTHORIZE = "localbase-realtime-authorize"

idle_server = localbase_fixture(PROJECT, scope="module",
                                env={"LOCALBASE_REALTIME_AUTHORIZE_IDLE_SECONDS": str(IDLE_SECONDS)})


@pytest.fixture
async def idle_db(idle_server):
    conn = await asyncpg.connect(idle_server.db_url)
    yield conn
    await conn.close()


async def backends(db, name: str) -> int:
    return await db.fetchval("select count(*) from pg_stat_activity where application_name = $1", name)


def stats(server) -> dict:
    return httpx.get(f"{server.url}/realtime/v1/api/stats", headers={"apikey": server.service_role_key}).json()


async def eventually_none(db, name: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while await backends(db, name):
        assert time.monotonic() < deadline, f"{name} is still connected"
        await asyncio.sleep(0.1)


async def own_rows_reach_their_owners(server, db, clients, n: int = 2) -> None:
    """n users subscribe to notes; each receives their own row and no other's."""
    watchers = []
    for _ in range(n):
        uid, token = new_user(server)
        c = await client(server, token)
        clients.append(c)
        _, inbox = await subscribed(c, topic(), event="INSERT", table="notes", schema="public")
        watchers.append((uid, inbox))
    stranger, _ = new_user(server)
    for k, (uid, _) in enumerate(watchers):
        await db.execute("insert into notes (owner_id, title) values ($1, $2), ($3, 'not yours')",
                         uid, f"mine-{k}", stranger)
    for _, inbox in watchers:
        await inbox.wait_for(1)
    await asyncio.sleep(0.4)
    assert [[r["title"] for r in inbox.records()] for _, inbox in watchers] == [[f"mine-{k}"] for k in range(n)]


async def test_start_up_connections_are_closed_and_the_member_session_stays(idle_db):
    for name in ("localbase-node-start", "localbase-realtime-start"):
        assert await backends(idle_db, name) == 0
    # the row names the member session's backend, though it was written on another connection
    members = await idle_db.fetch("select s.alive, a.application_name from localbase.node_status s "
                                  "left join pg_stat_activity a on a.pid = s.backend_pid")
    assert [(m["alive"], m["application_name"]) for m in members] == [(True, "localbase-node -/0")]


async def test_the_authorization_connection_opens_with_the_first_subscriber_and_closes_when_idle(
        idle_server, idle_db):
    assert await backends(idle_db, AUTHORIZE) == 0  # nobody subscribed yet
    assert stats(idle_server)["authorize_connects"] == 0
    clients: list = []
    try:
        await own_rows_reach_their_owners(idle_server, idle_db, clients)
        assert await backends(idle_db, AUTHORIZE) == 1
        # still subscribed: kept open however long nothing changes
        await asyncio.sleep(IDLE_SECONDS + 1)
        assert await backends(idle_db, AUTHORIZE) == 1
    finally:
        for c in clients:
            await c.realtime.close()
    await eventually_none(idle_db, AUTHORIZE)
    assert stats(idle_server)["authorize_closes"] == 1
    # the next subscriber opens it again, and is told its own rows only (contexts told anew)
    clients = []
    try:
        await own_rows_reach_their_owners(idle_server, idle_db, clients, n=3)
        assert await backends(idle_db, AUTHORIZE) == 1
        assert stats(idle_server)["authorize_connects"] == 2
    finally:
        for c in clients:
            await c.realtime.close()


async def test_a_terminated_authorization_connection_is_opened_again_by_the_next_change(idle_server, idle_db):
    clients: list = []
    try:
        uid, token = new_user(idle_server)
        c = await client(idle_server, token)
        clients.append(c)
        _, inbox = await subscribed(c, topic(), event="INSERT", table="notes", schema="public")
        assert await idle_db.fetchval("select count(pg_terminate_backend(pid)) from pg_stat_activity "
                                      "where application_name = $1", AUTHORIZE) == 1
        other, _ = new_user(idle_server)
        await idle_db.execute("insert into notes (owner_id, title) values ($1, 'theirs'), ($2, 'after')", other, uid)
        await inbox.wait_for(1, timeout=15)
        await asyncio.sleep(0.4)
        assert [r["title"] for r in inbox.records()] == ["after"]
        assert await backends(idle_db, AUTHORIZE) == 1
    finally:
        for c in clients:
            await c.realtime.close()
