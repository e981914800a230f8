"""Apply Localbase's bootstrap SQL (roles, schemas, auth core, ...), idempotently, as the superuser."""

from __future__ import annotations

import asyncio
import logging
from importlib import resources

import asyncpg

log = logging.getLogger("localbase.database")


def bootstrap_scripts() -> list[tuple[str, str]]:
    """(name, sql) of every bootstrap file, in file-name order (10_, 11_, 20_, ...)."""
    folder = resources.files("localbase.database") / "sql"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name, f.read_text()) for f in files]


LOCK_TIMEOUT = "500ms"  # below deadlock_timeout (1s): the bootstrap gives way, not a serving node's request
ATTEMPTS = 60


async def apply_bootstrap(conn: asyncpg.Connection) -> None:
    """One transaction, under an advisory lock (several workers or nodes starting at once take
    turns). Other nodes may be serving meanwhile: where the bootstrap must lock a table they use
    (ALTER TABLE ... even when nothing changes), it waits at most LOCK_TIMEOUT, then rolls back and
    tries again a moment later, so that it is never the one holding a lock a request waits for in
    a deadlock."""
    scripts = bootstrap_scripts()
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with conn.transaction():
                await conn.execute("select pg_advisory_xact_lock(5432001)")
                await conn.execute(f"set local lock_timeout = '{LOCK_TIMEOUT}'")
                for name, sql in scripts:
                    log.debug("bootstrap %s", name)
                    await conn.execute(sql)
            return
        except (asyncpg.LockNotAvailableError, asyncpg.DeadlockDetectedError) as exc:
            if attempt == ATTEMPTS:
                raise
            log.info("bootstrap: a table is busy (%s); trying again", type(exc).__name__)
            await asyncio.sleep(min(0.05 * attempt, 1.0))
