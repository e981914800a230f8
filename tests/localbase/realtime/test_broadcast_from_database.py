"""Broadcast from the database (realtime.send, realtime.broadcast_changes in a trigger): committed
messages reach the topic's private channel (the default) or its public one; a rolled-back
transaction sends nothing."""

from __future__ import annotations

import asyncio

from tests.localbase.realtime.conftest import Inbox, client, new_user, topic


async def _listening(server, clients, name: str, *, private: bool, event: str = "*") -> Inbox:
    uid, token = new_user(server)
    c = await client(server, token)
    clients.append(c)
    inbox = Inbox()
    ch = c.channel(name, {"config": {"private": private}}).on_broadcast(event, inbox)
    status = Inbox()
    await ch.subscribe(status)
    assert status.items[-1][0] == "SUBSCRIBED", status.items
    return inbox


async def test_realtime_send_reaches_private_or_public_channels(realtime_server, clients, db):
    private_inbox = await _listening(realtime_server, clients, "lobby", private=True)  # policy: lobby readable
    public_inbox = await _listening(realtime_server, clients, "lobby", private=False)
    await db.execute("select realtime.send('{\"n\": 1}'::jsonb, 'note', 'lobby')")  # private by default
    (msg,) = await private_inbox.wait_for(1)
    assert msg["event"] == "note" and msg["payload"]["n"] == 1 and "id" in msg["payload"]
    await db.execute("select realtime.send('{\"n\": 2}'::jsonb, 'note', 'lobby', false)")
    (msg,) = await public_inbox.wait_for(1)
    assert msg["payload"]["n"] == 2
    async with db.transaction():  # one transaction, a message to each kind of channel
        await db.execute("select realtime.send('{\"n\": 3}'::jsonb, 'note', 'lobby', false)")
        await db.execute("select realtime.send('{\"n\": 4}'::jsonb, 'note', 'lobby')")
    await private_inbox.wait_for(2)  # (three nodes under load: not always within a fixed 0.4 s)
    await public_inbox.wait_for(2)
    await asyncio.sleep(0.4)  # and nothing more
    assert [m["payload"]["n"] for m in private_inbox.items] == [1, 4]
    assert [m["payload"]["n"] for m in public_inbox.items] == [2, 3]


async def test_a_rolled_back_send_goes_nowhere(realtime_server, clients, db):
    name = topic()
    inbox = await _listening(realtime_server, clients, name, private=False)
    tx = db.transaction()
    await tx.start()
    await db.execute("select realtime.send('{\"n\": 1}'::jsonb, 'x', $1, false)", name)
    await tx.rollback()
    await db.execute("select realtime.send('{\"n\": 2}'::jsonb, 'x', $1, false)", name)
    (msg,) = await inbox.wait_for(1)
    await asyncio.sleep(0.3)
    assert msg["payload"]["n"] == 2 and len(inbox.items) == 1


async def test_broadcast_changes_from_a_row_trigger(realtime_server, clients, db):
    name = topic()
    await db.execute(f"""
        create table public.tickets_{name.replace('-', '_')} (id int primary key, title text);
        create function public.tickets_{name.replace('-', '_')}_broadcast() returns trigger language plpgsql as $$
        begin
          perform realtime.broadcast_changes('{name}', tg_op, tg_op, tg_table_name, tg_table_schema, new, old);
          return null;
        end $$;
        create trigger broadcast after insert or update or delete on public.tickets_{name.replace('-', '_')}
          for each row execute function public.tickets_{name.replace('-', '_')}_broadcast();
    """)
    await db.execute(f"create policy \"read {name}\" on realtime.messages for select to authenticated "
                     f"using (realtime.topic() = '{name}')")
    try:
        inbox = await _listening(realtime_server, clients, name, private=True)
        table = f"tickets_{name.replace('-', '_')}"
        await db.execute(f"insert into public.{table} values (1, 'first')")
        await db.execute(f"update public.{table} set title = 'changed' where id = 1")
        await db.execute(f"delete from public.{table} where id = 1")
        got = await inbox.wait_for(3)
        assert [m["event"] for m in got] == ["INSERT", "UPDATE", "DELETE"]
        assert got[0]["payload"]["record"] == {"id": 1, "title": "first"} and got[0]["payload"]["old_record"] is None
        assert got[1]["payload"]["old_record"]["title"] == "first" and got[1]["payload"]["record"]["title"] == "changed"
        assert got[2]["payload"]["operation"] == "DELETE" and got[2]["payload"]["table"] == table
        assert got[2]["payload"]["schema"] == "public"
    finally:
        await db.execute(f"drop policy \"read {name}\" on realtime.messages")


async def test_broadcast_replay_on_a_private_channel(realtime_server, clients, db):
    import time
    since = int(time.time() * 1000) - 1000
    for n in (1, 2, 3):
        await db.execute("select realtime.send(jsonb_build_object('n', $1::int), 'note', 'lobby')", n)
    uid, token = new_user(realtime_server)
    c = await client(realtime_server, token)
    clients.append(c)
    got = Inbox()
    ch = c.channel("lobby", {"config": {"private": True, "broadcast": {"replay": {"since": since, "limit": 2}}}})
    ch.on_broadcast("note", got)
    status = Inbox()
    await ch.subscribe(status)
    assert status.items[-1][0] == "SUBSCRIBED", status.items
    replayed = await got.wait_for(2)
    assert [m["payload"]["n"] for m in replayed] == [2, 3]  # the last two, oldest first
    assert all(m["meta"]["replayed"] is True and m["meta"]["id"] for m in replayed)
    await asyncio.sleep(0.3)
    assert len(got.items) == 2

    public = await client(realtime_server, token)
    clients.append(public)
    refused = Inbox()
    await public.channel("lobby", {"config": {"broadcast": {"replay": {"since": since}}}}).subscribe(refused)
    await refused.wait_for(1)
    assert refused.items[-1][0] == "CHANNEL_ERROR" and "not allowed for public channels" in str(refused.items[-1][1])
