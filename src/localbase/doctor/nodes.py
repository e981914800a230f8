"""Doctor checks on the nodes sharing the database (docs/scale-out.md): per node process, whether it
is alive and how far its replication slot is behind (WAL PostgreSQL keeps for it), and Localbase
Realtime slots no node has recorded (they hold WAL until dropped)."""

from __future__ import annotations

from localbase.doctor.model import Check, Context, wal_size
from localbase.nodes.reaper import realtime_slot

NODES = """
select n.node, n.worker, n.slot, n.host, n.api_url, n.alive, extract(epoch from now() - n.seen_at)::float8 as silent,
       s.active, pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::float8 as lag_bytes,
       pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::float8 as retained_bytes
  from localbase.node_status n
  left join pg_replication_slots s on s.slot_name = n.slot and s.database = current_database()
 order by n.node, n.worker, n.seen_at desc
"""
SLOTS = """
select slot_name, active, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 as retained_bytes
  from pg_replication_slots where database = current_database() and slot_type = 'logical'
"""
LAG_WARNING_BYTES = 256 * 2**20  # a live node's slot this far behind: its Realtime is not keeping up


async def check_nodes(ctx: Context) -> list[Check]:
    assert ctx.conn is not None  # a database check: run only with a connection
    if not await ctx.conn.fetchval("select to_regclass('localbase.node_status') is not null"):
        return [Check("nodes", True, "no node has run on this database yet", "info")]
    drop_after = ctx.settings.nodes.drop_slots_after_seconds
    prefix = str(ctx.settings.section("realtime").get("slot_name", "localbase_realtime"))
    checks = []
    recorded = set()
    for r in await ctx.conn.fetch(NODES):
        name = f"node {r['node'] or '(unnamed)'}/{r['worker']}"
        recorded.add(r["slot"])
        slot = "no slot (Realtime off)" if r["slot"] is None else \
            f"slot {r['slot']} missing" if r["active"] is None else \
            f"slot {r['slot']} {'streaming' if r['active'] else 'idle'}, {wal_size(r['lag_bytes'] or 0)} behind"
        if r["alive"]:
            lagging = r["lag_bytes"] is not None and r["lag_bytes"] > LAG_WARNING_BYTES
            checks.append(Check(name, not lagging, f"alive on {r['host']} ({r['api_url']}); {slot}",
                                "warning" if lagging else "info"))
        else:
            held = f"; its slot holds {wal_size(r['retained_bytes'])} of WAL" if r["retained_bytes"] is not None else ""
            checks.append(Check(name, False, f"gone for {r['silent']:.0f}s (last on {r['host']}){held}; "
                                f"the running nodes drop its slot after {drop_after:.0f}s", "warning"))
    for s in await ctx.conn.fetch(SLOTS):
        if realtime_slot(s["slot_name"], prefix) and s["slot_name"] not in recorded:
            state = "streaming" if s["active"] else "idle"
            checks.append(Check(f"slot {s['slot_name']}", bool(s["active"]),
                                f"a Localbase Realtime slot no node has recorded ({state}, holds "
                                f"{wal_size(s['retained_bytes'] or 0)} of WAL): start its node, or drop it with "
                                f"select pg_drop_replication_slot('{s['slot_name']}')", "warning"))
    return checks or [Check("nodes", True, "no node recorded", "info")]
