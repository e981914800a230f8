"""A node killed with -9 (the node and every process it started, as when its host dies) while rows
are being written and its clients are subscribed:

- its postgres_changes subscribers reconnect through the proxy to another node and receive every
  committed change (their subscription's position is resumed there: the node that held it is
  gone, so its position may be taken over; the new node replays from its retention buffer);
- its presences leave the other nodes' clients within the bus's bound (EXPIRE_SECONDS after its
  last keep-alive);
- once it has been gone for [nodes] drop_slots_after_seconds, another node drops its replication
  slot (WAL is no longer held for it), and only its: a Kafka bridge's slot stays;
- started again, it serves with a slot of its own."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx

from localbase.realtime import bus
from localbase.testing.nodes import LocalbaseNodes
from supabase import AsyncClientOptions, acreate_client
from tests.localbase.nodes.conftest import FAST, PROJECT, aclient, on_node
from tests.localbase.realtime.conftest import Inbox, topic

ROWS = 80
KILL_AT = 25
DROP_AFTER = 5.0


async def _wait(predicate, what: str, timeout: float) -> float:
    """Seconds it took until `await predicate()` is true."""
    started = time.monotonic()
    while not await predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def test_a_node_killed_mid_traffic(tmp_path):
    cluster = LocalbaseNodes(PROJECT, 3, env={**FAST, "LOCALBASE_NODES_DROP_SLOTS_AFTER_SECONDS": str(DROP_AFTER)})
    cluster.start()
    db = await asyncpg.connect(cluster.db_url)
    clients = []
    try:
        await db.execute("select pg_create_logical_replication_slot('localbase_kafka', 'pgoutput')")
        changes, status = Inbox(), Inbox()
        with on_node(cluster, 1):
            subscriber = await aclient(cluster)  # reconnects by itself (supabase-py's default)
            clients.append(subscriber)
            await subscriber.channel(topic()).on_postgres_changes("INSERT", changes, table="ticks", schema="public") \
                .subscribe(status)
            await status.wait_for(1)
            doomed = await acreate_client(cluster.url, cluster.anon_key, options=AsyncClientOptions(
                auto_refresh_token=False, persist_session=False, realtime={"auto_reconnect": False}))
            clients.append(doomed)
            room = topic()
            member = doomed.channel(room, {"config": {"presence": {"key": "doomed", "enabled": True}}})
            member.on_presence_sync(lambda: None)
            await member.subscribe(Inbox())
        assert cluster.proxy.open_sockets[1] == 2, cluster.proxy.open_sockets
        presence = Inbox()
        with on_node(cluster, 0):
            watcher = await aclient(cluster)
            clients.append(watcher)
            seen = watcher.channel(room, {"config": {"presence": {"key": "watcher", "enabled": True}}})
            seen.on_presence_sync(lambda: None)
            seen.on_presence_join(lambda k, _c, _n: presence(("join", k, time.monotonic())))
            seen.on_presence_leave(lambda k, _c, _l: presence(("leave", k, time.monotonic())))
            await seen.subscribe(Inbox())
        await member.track({"on": "n1"})
        await presence.wait_for(1, timeout=10)
        assert presence.items[0][:2] == ("join", "doomed")

        killed_at = 0.0
        for n in range(1, ROWS + 1):  # committed one by one while the node dies and its client moves
            await db.execute("insert into public.ticks (n, note) values ($1, 'failover')", n)
            if n == KILL_AT:
                killed_at = time.monotonic()
                cluster.kill(1)
            await asyncio.sleep(0.05)
        committed = {r["n"] for r in await db.fetch("select n from public.ticks where note = 'failover'")}
        assert committed == set(range(1, ROWS + 1))

        async def all_delivered() -> bool:
            return {r["n"] for r in changes.records()} >= committed
        await _wait(all_delivered, f"every committed change (got {len(changes.items)})", 60)
        assert cluster.proxy.open_sockets[1] == 0
        assert cluster.proxy.open_sockets[0] + cluster.proxy.open_sockets[2] >= 2  # watcher + the moved subscriber
        assert any(s[0] == "SUBSCRIBED" for s in status.items[1:]), status.items  # it rejoined elsewhere

        async def left() -> bool:
            return any(p[:2] == ("leave", "doomed") for p in presence.items)
        await _wait(left, "the dead node's presence to leave", 30)
        leave_at = next(p[2] for p in presence.items if p[:2] == ("leave", "doomed"))
        assert leave_at - killed_at <= bus.EXPIRE_SECONDS + 2 * bus.BEAT_SECONDS + 3, leave_at - killed_at

        async def slot_dropped() -> bool:
            return not await db.fetchval("select count(*) from pg_replication_slots "
                                         "where slot_name = 'localbase_realtime_n1'")
        waited = await _wait(slot_dropped, "the dead node's slot to be dropped", DROP_AFTER + 30)
        # not before its time: gone means last seen (its last heartbeat, up to one beat before the kill) that long ago
        assert time.monotonic() - killed_at >= DROP_AFTER - float(FAST["LOCALBASE_NODES_HEARTBEAT_SECONDS"]) - 0.1
        slots = {r["slot_name"]: r["active"]
                 for r in await db.fetch("select slot_name, active from pg_replication_slots")}
        assert slots == {"localbase_kafka": False, "localbase_realtime_n0": True, "localbase_realtime_n2": True}, \
            (slots, waited)
        assert not await db.fetchval("select count(*) from localbase.nodes where node = 'n1'")

        cluster.nodes[1].start(timeout=90)  # back: a slot of its own again, serving
        assert httpx.get(f"{cluster.nodes[1].url}/health").json()["node"] == "n1"
        assert await db.fetchval("select active from pg_replication_slots where slot_name = 'localbase_realtime_n1'")
    finally:
        for c in clients:
            await c.realtime.close()
        await db.close()
        cluster.cleanup()
