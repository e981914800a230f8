"""The bridge's `localbase doctor` check: the replication slot it streams from, and how far behind
the database's WAL it is (what Kafka has not acknowledged yet). A slot left behind by a bridge that
is no longer configured holds WAL forever: that is reported too."""

from __future__ import annotations

from localbase.bridge.config import KafkaConfig
from localbase.doctor.model import Check, Context, wal_size

SLOT = """
select active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint as lag
  from pg_replication_slots where slot_name = $1 and database = current_database()
"""


async def kafka_check(ctx: Context) -> Check:
    from localbase.realtime.service import slot_name
    config = KafkaConfig.from_settings(ctx.settings)
    slot = slot_name(config.slot_name, await ctx.conn.fetchval("select current_database()"))  # type: ignore[union-attr]
    row = await ctx.conn.fetchrow(SLOT, slot)  # type: ignore[union-attr]
    if not (config.enabled and config.tables):
        if row is not None:
            return Check("kafka", False, f"replication slot {slot} exists but no [kafka] changes are configured "
                         f"(or LOCALBASE_KAFKA_BOOTSTRAP_SERVERS is not set here): it holds "
                         f"{wal_size(row['lag'] or 0)} of WAL and growing; drop it with "
                         f"select pg_drop_replication_slot('{slot}')", "warning")
        return Check("kafka", True, "no Kafka bridge configured", "info")
    if row is None:
        return Check("kafka", False, f"replication slot {slot} does not exist yet: Localbase has not streamed "
                     f"changes to {config.bootstrap_servers}", "warning")
    lag = int(row["lag"] or 0)
    state = "streaming" if row["active"] else "not streaming (no Localbase holds the slot)"
    if lag > config.lag_warning_bytes:
        return Check("kafka", False, f"{wal_size(lag)} of WAL not yet acknowledged by Kafka "
                     f"(above lag_warning_bytes = {wal_size(config.lag_warning_bytes)}); slot {slot} {state}",
                     "warning")
    return Check("kafka", True, f"slot {slot} {state}, {wal_size(lag)} behind, to {config.bootstrap_servers}")
