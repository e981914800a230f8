"""Apply Localbase's bootstrap SQL (roles, schemas, auth core, ...), idempotently, as the superuser."""

from __future__ import annotations

import logging
from importlib import resources

import asyncpg

log = logging.getLogger("localbase.database")


def bootstrap_scripts() -> list[tuple[str, str]]:
    """(name, sql) of every bootstrap file, in file-name order (10_, 11_, 20_, ...)."""
    folder = resources.files("localbase.database") / "sql"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name, f.read_text()) for f in files]


async def apply_bootstrap(conn: asyncpg.Connection) -> None:
    # One advisory lock so that several Localbase workers starting at once do not race.
    async with conn.transaction():
        await conn.execute("select pg_advisory_xact_lock(5432001)")
        for name, sql in bootstrap_scripts():
            log.debug("bootstrap %s", name)
            await conn.execute(sql)
