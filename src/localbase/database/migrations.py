"""The project's migrations (supabase/migrations/<version>_<name>.sql), applied once each in
file-name order and recorded in supabase_migrations.schema_migrations as the Supabase CLI does."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

log = logging.getLogger("localbase.database")
FILE_RE = re.compile(r"^(?P<version>\d+)_(?P<name>[^/]+)\.sql$")
NAME_RE = re.compile(r"^[A-Za-z0-9_\-]+$")


class MigrationError(Exception):
    def __init__(self, file: Path, error: BaseException):
        self.file = file
        self.error = error
        detail = getattr(error, "detail", None)
        super().__init__(f"migration {file.name} failed: {error}" + (f" ({detail})" if detail else ""))


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path


_COMMENTS_RE = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)


async def execute_script(conn: asyncpg.Connection, sql: str) -> None:
    """Run a multi-statement script; one that is only comments is a no-op (asyncpg trips on it)."""
    if _COMMENTS_RE.sub("", sql).strip(" \t\r\n;"):
        await conn.execute(sql)


def discover(folder: Path) -> list[Migration]:
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        match = FILE_RE.match(path.name)
        if match is None:
            if path.suffix == ".sql":
                log.warning("skipping %s: migration files are named <timestamp>_<name>.sql", path.name)
            continue
        found.append(Migration(match["version"], match["name"], path))
    return found


async def applied_versions(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("select version from supabase_migrations.schema_migrations")
    return {r["version"] for r in rows}


async def apply_pending(conn: asyncpg.Connection, folder: Path) -> list[Migration]:
    """Apply what has not run yet, each in its own transaction. Returns what was applied."""
    done = await applied_versions(conn)
    applied = []
    for migration in discover(folder):
        if migration.version in done:
            continue
        sql = migration.path.read_text()
        started = time.perf_counter()
        try:
            async with conn.transaction():
                await execute_script(conn, sql)
                await conn.execute(
                    "insert into supabase_migrations.schema_migrations (version, name, statements) "
                    "values ($1, $2, $3)", migration.version, migration.name, [sql])
        except asyncpg.PostgresError as exc:
            raise MigrationError(migration.path, exc) from exc
        log.info("applied migration %s (%.0f ms)", migration.path.name, (time.perf_counter() - started) * 1000)
        applied.append(migration)
    if applied:
        await conn.execute("notify pgrst, 'reload schema'")
    return applied


async def apply_seed(conn: asyncpg.Connection, seed: Path) -> bool:
    if not seed.is_file():
        return False
    sql = seed.read_text()
    try:
        async with conn.transaction():
            await execute_script(conn, sql)
            await conn.execute(
                "insert into supabase_migrations.seed_files (path, hash) values ($1, $2) "
                "on conflict (path) do update set hash = excluded.hash",
                seed.name, hashlib.sha256(sql.encode()).hexdigest())
    except asyncpg.PostgresError as exc:
        raise MigrationError(seed, exc) from exc
    return True


def new_migration(folder: Path, name: str, now: datetime | None = None) -> Path:
    if not NAME_RE.match(name):
        raise ValueError("a migration name may hold letters, digits, '_' and '-' only")
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    path = folder / f"{stamp}_{name}.sql"
    if path.exists():
        raise FileExistsError(path)
    path.write_text(f"-- {name}\n")
    return path
