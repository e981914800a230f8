"""Apply Localbase's bootstrap SQL (roles, schemas, auth core, ...), idempotently, as the superuser.

The database records the digest of the bootstrap SQL it last applied (the comment on schema localbase,
written in the bootstrap's own transaction): a start that finds the same digest, and the roles the bootstrap
creates (they live in the cluster, not in the database: a dump restored elsewhere lacks them), skips
the bootstrap (about 0.1 s of every warm start). A new Localbase version, `localbase db reset` or a
new database applies it again."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path

import asyncpg

log = logging.getLogger("localbase.database")


def bootstrap_scripts() -> list[tuple[str, str]]:
    """(name, sql) of every bootstrap file, in file-name order (10_, 11_, 20_, ...). Read beside
    this module (a package installed on disk), not through importlib.resources: its readers import
    zipfile and some twenty modules (~0.8 MB, ~8 ms) into every start for nothing."""
    folder = Path(__file__).resolve().parent / "sql"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name, f.read_text(encoding="utf-8")) for f in files]


# the roles the bootstrap creates (10_roles_and_schemas.sql, 40_net.sql, 40_storage.sql)
ROLES = ("anon", "authenticated", "service_role", "authenticator", "supabase_auth_admin",
         "supabase_realtime_admin", "supabase_functions_admin", "supabase_storage_admin")
MARK = "Localbase bootstrap sha256:"  # + the digest: the comment on schema localbase


def digest(scripts: list[tuple[str, str]] | None = None) -> str:
    """sha-256 over every bootstrap file's name and text."""
    h = hashlib.sha256()
    for name, sql in scripts if scripts is not None else bootstrap_scripts():
        h.update(f"{name}\0{len(sql)}\0".encode())
        h.update(sql.encode())
    return h.hexdigest()


async def is_current(conn: asyncpg.Connection, scripts: list[tuple[str, str]] | None = None) -> bool:
    """One round trip: does this database record the bootstrap SQL we ship, and do its roles exist?"""
    return bool(await conn.fetchval(
        "select coalesce(obj_description(to_regnamespace('localbase'), 'pg_namespace') = $1, false)"
        " and (select count(*) from pg_roles where rolname = any($2::text[])) = cardinality($2::text[])",
        MARK + digest(scripts), list(ROLES)))


LOCK_TIMEOUT = "500ms"  # below deadlock_timeout (1s): the bootstrap gives way, not a serving node's request
ATTEMPTS = 60


async def ensure_bootstrap(conn: asyncpg.Connection) -> bool:
    """apply_bootstrap unless the database is current (is_current). True when it was applied."""
    scripts = bootstrap_scripts()
    if await is_current(conn, scripts):
        log.debug("bootstrap SQL is current; skipped")
        return False
    await apply_bootstrap(conn, scripts)
    return True


async def apply_bootstrap(conn: asyncpg.Connection, scripts: list[tuple[str, str]] | None = None) -> None:
    """One transaction, under an advisory lock (several workers or nodes starting at once take
    turns). Other nodes may be serving meanwhile: where the bootstrap must lock a table they use
    (ALTER TABLE ... even when nothing changes), it waits at most LOCK_TIMEOUT, then rolls back and
    tries again a moment later, so that it is never the one holding a lock a request waits for in
    a deadlock."""
    scripts = scripts if scripts is not None else bootstrap_scripts()
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with conn.transaction():
                await conn.execute("select pg_advisory_xact_lock(5432001)")
                await conn.execute(f"set local lock_timeout = '{LOCK_TIMEOUT}'")
                for name, sql in scripts:
                    log.debug("bootstrap %s", name)
                    await conn.execute(sql)
                # schema localbase exists from here on (50_nodes.sql); COMMENT takes no bind parameter
                # (the digest is hex)
                await conn.execute(f"comment on schema localbase is '{MARK}{digest(scripts)}'")
            return
        except (asyncpg.LockNotAvailableError, asyncpg.DeadlockDetectedError) as exc:
            if attempt == ATTEMPTS:
                raise
            log.info("bootstrap: a table is busy (%s); trying again", type(exc).__name__)
            await asyncio.sleep(min(0.05 * attempt, 1.0))
