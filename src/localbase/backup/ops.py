"""Dump and restore a Localbase database (what `localbase db dump/restore` and the scheduler run).

Restore replaces the database: it is dropped and re-created (as `db reset` does, realtime's
replication slot with it), the dump is loaded, then bootstrap and any migration newer than the
dump are applied. A server running on it sees errors while this happens, then carries on with
the restored data (its pools reconnect and its schema cache reloads).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from localbase.backup import tools
from localbase.database import bootstrap
from localbase.database.cluster import Cluster


async def count_tables(url: str) -> int:
    """Tables with data pg_dump will dump (for a progress bar)."""
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(
            "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where c.relkind in ('r', 'p', 'm') and n.nspname <> 'information_schema' "
            "and n.nspname not like 'pg\\_%' and c.relpersistence <> 't'")
    finally:
        await conn.close()


async def drop_slots(conn: asyncpg.Connection, database: str) -> None:
    """Drop the database's replication slots (realtime's), stopping whoever streams them."""
    for _ in range(50):
        await conn.execute("select pg_terminate_backend(active_pid) from pg_replication_slots "
                           "where database = $1 and active_pid is not null", database)
        try:
            await conn.execute("select pg_drop_replication_slot(slot_name) from pg_replication_slots "
                               "where database = $1 and not active", database)
        except asyncpg.ObjectInUseError:
            pass
        if not await conn.fetchval("select count(*) from pg_replication_slots where database = $1", database):
            return
        await asyncio.sleep(0.1)
    raise tools.BackupError(f"could not drop the replication slots of database {database}")


async def _maintenance(url: str) -> asyncpg.Connection:
    name = urlsplit(url).path.lstrip("/") or "postgres"
    return await asyncpg.connect(url, database="template1" if name == "postgres" else "postgres")


async def recreate_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/") or "postgres"
    target = await asyncpg.connect(url)
    try:  # the roles the dump's owners and grants name exist in a cluster Localbase never ran on
        await bootstrap.apply_bootstrap(target)
    finally:
        await target.close()
    conn = await _maintenance(url)
    try:
        ident = await conn.fetchval("select quote_ident($1)", name)
        await drop_slots(conn, name)
        await conn.execute(f"drop database if exists {ident} with (force)")
        await conn.execute(f"create database {ident}")
    finally:
        await conn.close()


async def after_restore(cluster: Cluster) -> int:
    """Slots made while the database was half-loaded go (realtime re-creates its slot from the
    restored state); bootstrap and migrations newer than the dump are applied; REST reloads."""
    url = cluster.admin_dsn
    conn = await _maintenance(url)
    try:
        await drop_slots(conn, urlsplit(url).path.lstrip("/") or "postgres")
    finally:
        await conn.close()
    report = await cluster.prepare(seed=False)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("notify pgrst, 'reload schema'")
    finally:
        await conn.close()
    return len(report.applied)


def restore(cluster: Cluster, file: Path, on_table: Callable[[str], None] | None = None) -> int:
    """Replace the cluster's database with the dump in `file`. Returns the migrations applied after."""
    if not file.is_file():
        raise tools.BackupError(f"no dump at {file}")
    asyncio.run(recreate_database(cluster.admin_dsn))
    tools.restore_into(cluster.admin_dsn, file, on_table)
    return asyncio.run(after_restore(cluster))
