"""Realtime never sends a row image the subscriber may not see (issue 12, item 1).

- On a table with RLS, a subscriber whose role does not bypass RLS gets only the primary key in
  `old_record` (UPDATE and DELETE), even with replica identity full: the previous image was never
  checked against the policies (an UPDATE that hands a row to a user would otherwise show that
  user the previous owner's row). Roles that bypass RLS (service_role) get the whole old image.
- No column the subscriber's role cannot SELECT (column GRANTs) appears in `record`,
  `old_record` or `columns`, and no filter may test one.
- A GRANT or REVOKE applies from the next change committed after it (cached per table and role,
  forgotten in commit order).

Through the official async supabase-py client; tables in migrations/20250201000000_row_images.sql.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.localbase.realtime.conftest import Inbox, client, new_user, subscribed, topic

SETTLE = 0.4


async def test_a_row_handed_over_does_not_show_its_new_owner_the_previous_row(realtime_server, db, clients):
    (alice, _), (bob, bob_token) = new_user(realtime_server), new_user(realtime_server)
    c_bob = await client(realtime_server, bob_token)
    service = await client(realtime_server, realtime_server.service_role_key)
    clients += [c_bob, service]
    _, bobs = await subscribed(c_bob, topic(), table="tickets", schema="public")
    _, everything = await subscribed(service, topic(), table="tickets", schema="public")

    ticket = await db.fetchval("insert into tickets (owner_id, secret, title) values ($1, 'alice-secret', 'draft') "
                               "returning id", alice)
    await db.execute("update tickets set owner_id = $1, secret = 'for bob', title = 'yours' where id = $2",
                     bob, ticket)
    await db.execute("delete from tickets where id = $1", ticket)

    upd, dele = await bobs.wait_for(2)
    await everything.wait_for(3)
    await asyncio.sleep(SETTLE)
    assert [m["data"]["type"] for m in bobs.items] == ["UPDATE", "DELETE"]  # alice's insert never reached bob
    assert upd["data"]["record"] == {"id": ticket, "owner_id": bob, "secret": "for bob", "title": "yours"}
    assert upd["data"]["old_record"] == {"id": ticket}  # not alice's secret, owner or title
    assert dele["data"]["old_record"] == {"id": ticket} and dele["data"]["record"] == {}
    assert "alice-secret" not in repr(bobs.items)
    # the service role bypasses RLS: it gets the whole previous image
    assert everything.items[1]["data"]["old_record"] == {"id": ticket, "owner_id": alice,
                                                         "secret": "alice-secret", "title": "draft"}
    assert everything.items[2]["data"]["old_record"]["secret"] == "for bob"


async def test_columns_the_role_may_not_select_never_reach_it(realtime_server, db, clients):
    _, token = new_user(realtime_server)
    user = await client(realtime_server, token)
    service = await client(realtime_server, realtime_server.service_role_key)
    clients += [user, service]
    _, seen = await subscribed(user, topic(), table="staff", schema="public")
    _, everything = await subscribed(service, topic(), table="staff", schema="public")

    person = await db.fetchval("insert into staff (name, salary) values ('Ann', 91000) returning id")
    await db.execute("update staff set name = 'Ann B', salary = 95000 where id = $1", person)
    await db.execute("delete from staff where id = $1", person)

    ins, upd, dele = await seen.wait_for(3)
    await everything.wait_for(3)
    assert ins["data"]["record"] == {"id": person, "name": "Ann"}
    assert upd["data"]["record"] == {"id": person, "name": "Ann B"}
    assert upd["data"]["old_record"] == {"id": person, "name": "Ann"}  # no RLS: the old image, less salary
    assert dele["data"]["old_record"] == {"id": person, "name": "Ann B"}
    assert [c["name"] for c in ins["data"]["columns"]] == ["id", "name"]
    assert "salary" not in repr(seen.items) and "91000" not in repr(seen.items)
    full = everything.items[1]["data"]
    assert full["record"]["salary"] == 95000 and full["old_record"]["salary"] == 91000
    assert [c["name"] for c in full["columns"]] == ["id", "name", "salary"]


async def test_a_filter_on_a_column_the_role_may_not_select_is_refused(realtime_server, clients):
    """Else the filter is an oracle: `salary=gt.90000` tells which rows earn more, change by change."""
    _, token = new_user(realtime_server)
    user = await client(realtime_server, token)
    clients.append(user)
    status = Inbox()
    await user.channel(topic()).on_postgres_changes(
        "*", Inbox(), schema="public", table="staff", filter="salary=gt.90000").subscribe(status)
    assert status.items[0][0] == "CHANNEL_ERROR", status.items
    assert "salary" in str(status.items[0][1])
    await subscribed(user, topic(), table="staff", schema="public", filter="name=eq.Ann")  # a visible column: fine


async def test_a_revoke_applies_from_the_next_change(realtime_server, db, clients):
    """What a role may see is cached per table; a REVOKE committed before a change is never
    answered from the cache (changes are shaped by the privileges of when they are sent, so a
    change committed just before a REVOKE may already go without the column: never the reverse)."""
    _, token = new_user(realtime_server)
    user = await client(realtime_server, token)
    clients.append(user)
    _, seen = await subscribed(user, topic(), event="INSERT", table="payroll", schema="public")
    await db.execute("grant select (salary) on payroll to authenticated")
    try:
        await db.execute("insert into payroll (name, salary) values ('granted', 2)")
        (granted,) = await seen.wait_for(1)
        assert granted["data"]["record"] == {"id": granted["data"]["record"]["id"], "name": "granted", "salary": 2}
        await db.execute("revoke select (salary) on payroll from authenticated")
        await db.execute("insert into payroll (name, salary) values ('revoked', 3)")  # right after: no sleep
        _, revoked = await seen.wait_for(2)
        assert revoked["data"]["record"]["name"] == "revoked" and "salary" not in revoked["data"]["record"]
        assert [c["name"] for c in revoked["data"]["columns"]] == ["id", "name"]
    finally:
        await db.execute("revoke select (salary) on payroll from authenticated")


@pytest.mark.one_server  # the realtime stats of the server that streamed the changes
async def test_what_a_role_may_see_is_asked_once_not_per_change(realtime_server, db, clients):
    """The per-change path stays one query: the shape of (table, role) comes from the cache."""
    import httpx

    def stats() -> dict:
        return httpx.get(f"{realtime_server.url}/realtime/v1/api/stats",
                         headers={"apikey": realtime_server.service_role_key}).json()

    _, token = new_user(realtime_server)
    user = await client(realtime_server, token)
    clients.append(user)
    _, seen = await subscribed(user, topic(), event="INSERT", table="staff", schema="public")
    await db.execute("insert into staff (name, salary) values ('warm-up', 1)")
    await seen.wait_for(1)
    before = stats()
    await db.execute("insert into staff (name, salary) select 'n' || i, i from generate_series(1, 20) i")
    await seen.wait_for(21)
    after = stats()
    assert after["evaluations"] - before["evaluations"] >= 20
    assert after["shape_queries"] - before["shape_queries"] <= 1  # 0, or 1 if the 30 s expiry fell in between
    assert all("salary" not in m["data"]["record"] for m in seen.items)
