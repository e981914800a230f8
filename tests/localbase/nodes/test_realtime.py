"""Realtime across nodes, through the proxy, with supabase-py's async realtime client: each client
on a node of its own (the proxy's `prefer`), so every test crosses nodes.

- postgres_changes: each node reads its own slot and delivers to the sockets it holds, once;
- broadcast and presence: what a client on one node sends reaches the others' (the bus over
  LISTEN/NOTIFY on the shared database);
- Functions: each node serves the project's functions from the same folder."""

from __future__ import annotations

import asyncio

import httpx

from tests.localbase.nodes.conftest import aclient, on_node, sql
from tests.localbase.realtime.conftest import Inbox, topic


async def test_postgres_changes_reach_subscribers_on_every_node_once(nodes):
    clients, inboxes = [], []
    name = topic()
    try:
        for i in range(3):
            with on_node(nodes, i):
                c = await aclient(nodes)
                clients.append(c)
                inbox, status = Inbox(), Inbox()
                await c.channel(name).on_postgres_changes("INSERT", inbox, table="ticks", schema="public") \
                    .subscribe(status)
                await status.wait_for(1)
                assert status.items[-1][0] == "SUBSCRIBED", status.items
                inboxes.append(inbox)
        assert sorted(nodes.proxy.open_sockets.elements()) == [0, 1, 2]
        await sql(nodes, "insert into public.ticks (n, note) select g, 'fan' from generate_series(1, 5) g")
        for inbox in inboxes:
            await inbox.wait_for(5, timeout=15)
        await asyncio.sleep(0.5)
        for inbox in inboxes:
            assert sorted(r["n"] for r in inbox.records()) == [1, 2, 3, 4, 5]
    finally:
        for c in clients:
            await c.realtime.close()


async def _joined(c, name: str, key: str, *, inbox: Inbox | None = None, presence: Inbox | None = None):
    ch = c.channel(name, {"config": {"broadcast": {"self": False}, "presence": {"key": key, "enabled": True}}})
    ch.on_presence_sync(lambda: None)
    if inbox is not None:
        ch.on_broadcast("msg", inbox)
    if presence is not None:
        ch.on_presence_join(lambda k, _cur, new: presence(("join", k)))
        ch.on_presence_leave(lambda k, _cur, left: presence(("leave", k)))
    status = Inbox()
    await ch.subscribe(status)
    await status.wait_for(1)
    assert status.items[-1][0] == "SUBSCRIBED", status.items
    return ch


async def test_broadcast_and_presence_reach_clients_on_the_other_nodes(nodes):
    name = topic()
    clients, inboxes, presences, channels = [], [], [], []
    try:
        for i in range(3):
            with on_node(nodes, i):
                c = await aclient(nodes)
                clients.append(c)
                inbox, presence = Inbox(), Inbox()
                channels.append(await _joined(c, name, f"member-{i}", inbox=inbox, presence=presence))
                inboxes.append(inbox)
                presences.append(presence)
        await channels[0].send_broadcast("msg", {"from": 0})
        await channels[2].send_broadcast("msg", {"from": 2})
        for i in (1, 2):
            await inboxes[i].wait_for(2 if i == 1 else 1, timeout=10)
        assert sorted(m["payload"]["from"] for m in inboxes[1].items) == [0, 2]
        assert [m["payload"]["from"] for m in inboxes[2].items] == [0]
        await channels[0].track({"node": 0})
        for i in (1, 2):
            await presences[i].wait_for(1, timeout=10)
            assert ("join", "member-0") in presences[i].items
        # the state a late joiner on another node gets holds the others' presences
        with on_node(nodes, 1):
            late = await aclient(nodes)
            clients.append(late)
            ch = await _joined(late, name, "late")
        for _ in range(100):
            if "member-0" in ch.presence.state:
                break
            await asyncio.sleep(0.05)
        assert "member-0" in ch.presence.state
    finally:
        for c in clients:
            await c.realtime.close()


async def test_http_broadcast_on_one_node_reaches_sockets_on_all(nodes):
    name = topic()
    clients, inboxes = [], []
    try:
        for i in range(3):
            with on_node(nodes, i):
                c = await aclient(nodes)
                clients.append(c)
                inbox = Inbox()
                await _joined(c, name, f"m{i}", inbox=inbox)
                inboxes.append(inbox)
        r = httpx.post(f"{nodes.nodes[1].url}/realtime/v1/api/broadcast", headers={"apikey": nodes.service_role_key},
                       json={"messages": [{"topic": name, "event": "msg", "payload": {"via": "http"}}]})
        assert r.status_code == 202, r.text
        for inbox in inboxes:
            await inbox.wait_for(1, timeout=10)
            assert inbox.items[0]["payload"] == {"via": "http"}
    finally:
        for c in clients:
            await c.realtime.close()


def test_each_node_serves_the_projects_functions(nodes):
    seen = set()
    for _ in range(9):
        r = httpx.post(f"{nodes.url}/functions/v1/node-name", headers={"apikey": nodes.anon_key,
                                                                         "authorization": f"Bearer {nodes.anon_key}"})
        assert r.status_code == 200, r.text
        seen.add(r.json()["node"])
    assert seen == {"n0", "n1", "n2"}
