"""Cleaning up after nodes that are gone, run by the live ones (one at a time: an advisory lock).

- A process that is not alive (localbase.node_status) no longer serves its postgres_changes
  subscriptions: their positions are marked disconnected, as of when it was last seen, so that
  their clients (reconnected to another node) resume them within the retention window, and they
  stop holding the other slots' confirmed position once that window has passed.
- A process gone for longer than [nodes] drop_slots_after_seconds has its replication slot dropped
  (else PostgreSQL keeps WAL for it forever) and its row deleted. Only slots a Localbase process
  recorded as its own, named like Localbase's Realtime slots and not in use, are ever dropped: other
  slots (a Kafka bridge's `localbase_kafka`, a standby's, a tool's) are never touched.
"""

from __future__ import annotations

import logging

import asyncpg

log = logging.getLogger("localbase.nodes")
REAP_LOCK = 5432003

RELEASE = """
with gone as (
  update realtime.subscription_positions p
     set connected = false, updated_at = greatest(p.updated_at, n.seen_at)
    from localbase.node_status n
   where p.connected and n.slot = p.owner and not n.alive
  returning 1
) select count(*) from gone
"""
EXPIRED = """
select id, node, worker, slot,
       exists (select 1 from localbase.node_status m where m.slot = n.slot and m.alive) as slot_in_use
  from localbase.node_status n
 where not alive and seen_at < now() - make_interval(secs => $1)
"""
DROP_SLOT = """
select pg_drop_replication_slot(slot_name) from pg_replication_slots
 where slot_name = $1 and database = current_database() and not active
"""
FORGET = "delete from localbase.nodes where id = $1 and seen_at < now() - make_interval(secs => $2)"


def realtime_slot(slot: str | None, prefix: str) -> bool:
    """Is `slot` named like a Localbase Realtime slot (`<prefix>` or `<prefix>_...`)?"""
    return bool(slot) and (slot == prefix or slot.startswith(prefix + "_"))  # type: ignore[union-attr]


async def reap(conn: asyncpg.Connection, slot_prefix: str, drop_after: float) -> tuple[int, list[str]]:
    """(positions released, slots dropped); nothing when another process is reaping right now."""
    if not await conn.fetchval("select pg_try_advisory_lock($1)", REAP_LOCK):
        return 0, []
    try:
        released = await conn.fetchval(RELEASE)
        if released:
            log.info("nodes: %d subscription(s) of stopped node(s) may resume on this one", released)
        dropped = []
        for row in await conn.fetch(EXPIRED, drop_after):
            if realtime_slot(row["slot"], slot_prefix) and not row["slot_in_use"]:
                try:
                    if await conn.fetch(DROP_SLOT, row["slot"]):
                        dropped.append(row["slot"])
                        log.warning("nodes: node %s worker %d has been gone for over %.0fs: dropped its replication "
                                    "slot %s", row["node"] or "(unnamed)", row["worker"], drop_after, row["slot"])
                except asyncpg.ObjectInUseError:  # someone streams it after all: the node is back
                    continue
            await conn.execute(FORGET, row["id"], drop_after)
        return released, dropped
    finally:
        await conn.execute("select pg_advisory_unlock($1)", REAP_LOCK)
