"""postgres_changes end to end: official async client <-> Localbase <-> PostgreSQL.

Every test commits through a superuser connection (as a migration, a trigger or another service
would), and checks what each subscriber's callback received."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from tests.localbase.helpers import user_token
from tests.localbase.realtime.conftest import Inbox, client, new_user, subscribed, topic

SETTLE = 0.4  # after the positive receivers have their rows: time for a wrong delivery to show up


async def test_two_users_anon_and_service_each_see_what_rls_allows(realtime_server, db, clients):
    (u1, t1), (u2, t2) = new_user(realtime_server), new_user(realtime_server)
    c1, c2, anon = await client(realtime_server, t1), await client(realtime_server, t2), await client(realtime_server)
    service = await client(realtime_server, realtime_server.service_role_key)
    clients += [c1, c2, anon, service]
    name = topic()
    _, in1 = await subscribed(c1, name, table="notes", schema="public")
    _, in2 = await subscribed(c2, name, table="notes", schema="public")
    _, in_anon = await subscribed(anon, name, table="notes", schema="public")
    _, in_service = await subscribed(service, name, table="notes", schema="public")

    await db.execute("insert into notes (owner_id, title) values ($1, 'one a'), ($2, 'two a')", u1, u2)
    await db.execute("insert into notes (owner_id, title) values ($1, 'one b')", u1)

    await in1.wait_for(2)
    await in2.wait_for(1)
    await in_service.wait_for(3)
    await asyncio.sleep(SETTLE)
    assert [r["title"] for r in in1.records()] == ["one a", "one b"]
    assert [r["title"] for r in in2.records()] == ["two a"]
    assert in_anon.items == []
    assert [r["title"] for r in in_service.records()] == ["one a", "two a", "one b"]
    first = in1.items[0]["data"]
    assert first["schema"] == "public" and first["table"] == "notes" and first["type"] == "INSERT"
    assert first["errors"] is None and first["commit_timestamp"].endswith("Z")
    assert {"name": "score", "type": "int4"} in first["columns"]
    assert first["record"]["owner_id"] == u1 and first["record"]["score"] == 0 and first["record"]["tags"] == []


async def test_filters(realtime_server, db, clients):
    uid, token = new_user(realtime_server)
    c = await client(realtime_server, token)
    clients.append(c)
    cases = {
        "score=eq.3": [3], "score=neq.3": [1, 2, 4, 5], "score=lt.3": [1, 2], "score=lte.3": [1, 2, 3],
        "score=gt.3": [4, 5], "score=gte.3": [3, 4, 5], "score=in.(1,5)": [1, 5],
        "title=eq.n 2": [2], "score=not.in.(1,2,3)": [4, 5], "score=gt.1,score=lt.4": [2, 3],
    }
    inboxes = {}
    for flt in cases:
        _, inboxes[flt] = await subscribed(c, topic(), event="INSERT", table="notes", schema="public", filter=flt)
    other_uid, _ = new_user(realtime_server)
    await db.execute("insert into notes (owner_id, title, score) "
                     "select $1, 'n ' || i, i from generate_series(1, 5) i", uid)
    await db.execute("insert into notes (owner_id, title, score) values ($1, 'not mine', 3)", other_uid)
    for flt, expected in cases.items():
        await inboxes[flt].wait_for(len(expected))
    await asyncio.sleep(SETTLE)
    for flt, expected in cases.items():
        assert [r["score"] for r in inboxes[flt].records()] == expected, flt


async def test_bad_filter_or_table_is_a_channel_error(realtime_server, clients):
    c = await client(realtime_server)
    clients.append(c)
    for binding in ({"table": "notes", "filter": "nope=eq.1"}, {"table": "notes", "filter": "score=eq.abc"},
                    {"table": "notes", "filter": "score=like.1"}, {"table": "no_such_table"}):
        status = Inbox()
        await c.channel(topic()).on_postgres_changes("*", Inbox(), schema="public", **binding).subscribe(status)
        assert status.items[0][0] == "CHANNEL_ERROR", binding


async def test_update_and_delete_carry_old_records(realtime_server, db, clients):
    """Replica identity full: the whole old image for a role that bypasses RLS; only the primary
    key for one RLS applies to (as Supabase documents; test_row_images.py has why)."""
    uid, token = new_user(realtime_server)
    c = await client(realtime_server, token)
    service = await client(realtime_server, realtime_server.service_role_key)
    clients += [c, service]
    _, updates = await subscribed(c, topic(), event="UPDATE", table="notes", schema="public")
    _, deletes = await subscribed(c, topic(), event="DELETE", table="notes", schema="public")
    _, everything = await subscribed(service, topic(), event="*", table="notes", schema="public",
                                     filter=f"owner_id=eq.{uid}")
    note_id = await db.fetchval("insert into notes (owner_id, title, score) values ($1, 'before', 1) returning id", uid)
    await db.execute("update notes set title = 'after', score = 2 where id = $1", note_id)
    await db.execute("delete from notes where id = $1", note_id)
    (upd,) = await updates.wait_for(1)
    (dele,) = await deletes.wait_for(1)
    assert upd["data"]["type"] == "UPDATE"
    assert upd["data"]["record"]["title"] == "after" and upd["data"]["record"]["score"] == 2
    assert upd["data"]["old_record"] == {"id": note_id}
    assert dele["data"]["type"] == "DELETE" and dele["data"]["record"] == {}
    assert dele["data"]["old_record"] == {"id": note_id}
    _, s_upd, s_dele = await everything.wait_for(3)
    assert s_upd["data"]["old_record"]["title"] == "before" and s_upd["data"]["old_record"]["score"] == 1
    assert s_dele["data"]["old_record"]["title"] == "after" and s_dele["data"]["old_record"]["owner_id"] == uid


async def test_default_replica_identity_old_record_is_the_key(realtime_server, db, clients):
    service = await client(realtime_server, realtime_server.service_role_key)
    clients.append(service)
    _, inbox = await subscribed(service, topic(), table="posts", schema="public")
    post_id = await db.fetchval("insert into posts (body, published) values ('p', true) returning id")
    await db.execute("update posts set body = 'q' where id = $1", post_id)
    await db.execute("delete from posts where id = $1", post_id)
    ins, upd, dele = await inbox.wait_for(3)
    assert [m["data"]["type"] for m in (ins, upd, dele)] == ["INSERT", "UPDATE", "DELETE"]
    assert upd["data"]["record"]["body"] == "q" and upd["data"]["old_record"] == {}
    assert dele["data"]["old_record"] == {"id": post_id}


async def test_anon_sees_public_rows_only(realtime_server, db, clients):
    anon = await client(realtime_server)
    clients.append(anon)
    _, inbox = await subscribed(anon, topic(), event="INSERT", table="posts", schema="public")
    await db.execute("insert into posts (body, published) values ('hidden', false), ('shown', true)")
    await inbox.wait_for(1)
    await asyncio.sleep(SETTLE)
    assert [r["body"] for r in inbox.records()] == ["shown"]


async def test_rollback_delivers_nothing_and_commit_order_is_kept(realtime_server, db, clients):
    service = await client(realtime_server, realtime_server.service_role_key)
    clients.append(service)
    _, inbox = await subscribed(service, topic(), event="INSERT", table="posts", schema="public")
    tx = db.transaction()
    await tx.start()
    await db.execute("insert into posts (body) values ('rolled back')")
    await tx.rollback()
    other = await asyncpg.connect(realtime_server.db_url)
    try:
        # two transactions interleaved: B commits first, so B's rows come first
        a, b = db.transaction(), other.transaction()
        await a.start()
        await b.start()
        await db.execute("insert into posts (body) values ('a1')")
        await other.execute("insert into posts (body) values ('b1')")
        await db.execute("insert into posts (body) values ('a2')")
        await other.execute("insert into posts (body) values ('b2')")
        await b.commit()
        await a.commit()
    finally:
        await other.close()
    await inbox.wait_for(4)
    await asyncio.sleep(SETTLE)
    assert [r["body"] for r in inbox.records()] == ["b1", "b2", "a1", "a2"]


async def test_set_auth_changes_what_a_subscriber_sees(realtime_server, db, clients):
    uid, token = new_user(realtime_server)
    c = await client(realtime_server)  # anon at first
    clients.append(c)
    _, inbox = await subscribed(c, topic(), event="INSERT", table="notes", schema="public")
    await db.execute("insert into notes (owner_id, title) values ($1, 'while anon')", uid)
    await asyncio.sleep(SETTLE)
    assert inbox.items == []
    await c.realtime.set_auth(token)
    await asyncio.sleep(0.2)
    await db.execute("insert into notes (owner_id, title) values ($1, 'signed in')", uid)
    await inbox.wait_for(1)
    assert [r["title"] for r in inbox.records()] == ["signed in"]


async def test_expired_token_stops_delivery(realtime_server, db, clients):
    uid = new_user(realtime_server)[0]
    short = user_token(realtime_server, uid, expires_in=2)
    c = await client(realtime_server, short)
    clients.append(c)
    status = Inbox()
    _, inbox = await subscribed(c, topic(), status=status, event="INSERT", table="notes", schema="public")
    await db.execute("insert into notes (owner_id, title) values ($1, 'in time')", uid)
    await inbox.wait_for(1)
    await asyncio.sleep(max(0.0, 2.6 - (time.time() % 1)))
    await status.wait_for(2, timeout=5)
    await db.execute("insert into notes (owner_id, title) values ($1, 'too late')", uid)
    await asyncio.sleep(SETTLE)
    assert [r["title"] for r in inbox.records()] == ["in time"]
    assert [s for s, _ in status.items][1] in ("CHANNEL_ERROR", "CLOSED")


async def test_expired_token_is_refused_at_join(realtime_server, clients):
    c = await client(realtime_server, user_token(realtime_server, new_user(realtime_server)[0], expires_in=-10))
    clients.append(c)
    status = Inbox()
    await c.channel(topic()).on_postgres_changes("*", Inbox(), table="notes", schema="public").subscribe(status)
    assert status.items[0][0] == "CHANNEL_ERROR" and "expired" in str(status.items[0][1])


async def test_a_table_is_enabled_by_adding_it_to_the_publication(realtime_server, db, clients):
    service = await client(realtime_server, realtime_server.service_role_key)
    clients.append(service)
    _, inbox = await subscribed(service, topic(), event="INSERT", table="drafts", schema="public")
    await db.execute("insert into drafts (body) values ('not published yet')")
    await asyncio.sleep(SETTLE)
    assert inbox.items == []
    await db.execute("alter publication supabase_realtime add table public.drafts")
    try:
        await db.execute("insert into drafts (body) values ('published')")
        await inbox.wait_for(1)
        assert [r["body"] for r in inbox.records()] == ["published"]
    finally:
        await db.execute("alter publication supabase_realtime drop table public.drafts")


async def test_a_real_signed_up_user(realtime_server, db, clients):
    c = await client(realtime_server)
    clients.append(c)
    email = f"rt-{int(time.time() * 1000)}@example.com"
    session = await c.auth.sign_up({"email": email, "password": "correct-horse-1"})
    await c.realtime.set_auth(session.session.access_token)
    _, inbox = await subscribed(c, topic(), event="INSERT", table="notes", schema="public")
    await db.execute("insert into notes (owner_id, title) values ($1, 'for the real user'), ($2, 'not')",
                     session.user.id, new_user(realtime_server)[0])
    await inbox.wait_for(1)
    await asyncio.sleep(SETTLE)
    assert [r["title"] for r in inbox.records()] == ["for the real user"]
