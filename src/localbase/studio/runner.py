"""The SQL editor's runner: a script in one transaction, as the database owner or as a caller.

As a caller (anon, a user, the service role) it runs in REST's own `execute.transaction`: a
connection of REST's pool through REST's gate, the caller's role, claims and request context (and
the role's statement_timeout) set as for an API request - what the script sees is what that
caller's API request would see. Every statement but the last runs as it is; the last one's first
`row_limit` rows are returned as a grid, with the elapsed time and the command's status."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import asyncpg

from localbase.database.gate import GateTimeout
from localbase.database.pool import UNAVAILABLE
from localbase.rest import execute
from localbase.studio.splitter import line_col, split

HEADERS = '{"user-agent":"localbase-studio"}'
OWNER_TIMEOUT = "120s"  # the database owner's scripts run at most this long
SCHEMA_CHANGES = frozenset(("create", "alter", "drop", "comment", "grant", "revoke", "do", "security"))


class _RollBack(Exception):
    """Raised inside the owner's transaction to end it without keeping anything."""


class Unavailable(Exception):
    """The database did not answer (down, restarting, or every connection busy)."""


@dataclass
class SqlError:
    message: str
    code: str = ""
    detail: str | None = None
    hint: str | None = None
    statement: int = 1  # which statement of the script (1-based)
    line: int | None = None  # where in the script (1-based), when PostgreSQL gave a position
    column: int | None = None
    excerpt: str = ""  # the script's line at that position


@dataclass
class Outcome:
    columns: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    truncated: bool = False  # more rows than row_limit
    status: str = ""  # the last statement's command status, e.g. "SELECT 3", "UPDATE 2"
    statements: int = 0
    elapsed_ms: float = 0.0
    rolled_back: bool = False
    error: SqlError | None = None
    schema_changed: bool = False  # it committed a statement that may change what the API exposes


def context(schema, extra_search_path: tuple[str, ...]) -> execute.Context:
    """The request context REST sets for a request on the first exposed schema: its search_path
    (REST's own function) and [api]/pgrst db-pre-request."""
    return execute.Context("POST", "/studio/sql", HEADERS, execute.search_path(schema.exposed[0], extra_search_path),
                           schema.config.pre_request)


async def run(db, owner_pool: asyncpg.Pool, script: str, caller: execute.Caller | None, *,
              ctx: execute.Context | None = None, role_settings: dict[str, dict[str, str]] | None = None,
              row_limit: int = 500, rollback: bool = False) -> Outcome:
    """Run `script`; `caller` None runs it as the database owner. `ctx` and `role_settings`: from
    REST's schema cache (`context`, Schema.role_settings)."""
    statements = split(script)
    outcome = Outcome(statements=len(statements))
    if not statements:
        outcome.error = SqlError("nothing to run: the script holds no statement")
        return outcome
    started = perf_counter()
    done = 0  # statements that ran
    try:
        async with _transaction(db, owner_pool, caller, ctx, role_settings, rollback) as conn:
            for statement in statements[:-1]:
                await conn.execute(statement.text)
                done += 1
            await _last(conn, statements[-1].text, row_limit, outcome)
    except asyncpg.PostgresError as exc:  # the script's own error (an outage is Unavailable)
        outcome.error = _error(exc, script, statements[done].offset, done + 1)
        outcome.rolled_back = True
    else:
        outcome.rolled_back = rollback
        outcome.schema_changed = not rollback and any(_first_word(s.text) in SCHEMA_CHANGES for s in statements)
    outcome.elapsed_ms = (perf_counter() - started) * 1000
    return outcome


@contextlib.asynccontextmanager
async def _transaction(db, owner_pool: asyncpg.Pool, caller: execute.Caller | None, ctx: execute.Context | None,
                       role_settings: dict[str, dict[str, str]] | None, rollback: bool) -> AsyncIterator[Any]:
    """One transaction: as the caller through REST's own `execute.transaction` (REST's pool and
    gate, role, claims, request context and the role's statement_timeout), or as the owner."""
    try:
        if caller is not None:
            timeout = (role_settings or {}).get(caller.role, {}).get("statement_timeout")  # as execute.run
            async with execute.transaction(db, caller, ctx or execute.Context("POST", "/studio/sql", HEADERS),
                                           read_only=False, rollback=rollback,
                                           timeout=timeout) as conn:
                yield conn
        else:
            async with owner_pool.acquire() as conn:
                try:
                    async with conn.transaction():  # commits, or rolls back on any exception
                        await conn.execute(f"set local statement_timeout = '{OWNER_TIMEOUT}'")
                        yield conn
                        if rollback:
                            raise _RollBack
                except _RollBack:
                    pass
    except GateTimeout:
        raise Unavailable("every database connection is busy; try again") from None
    except UNAVAILABLE as exc:
        raise Unavailable(f"the database is unavailable ({type(exc).__name__})") from None


def _first_word(text: str) -> str:
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    words = " ".join(lines).split(None, 1)
    return words[0].lower() if words else ""


async def _last(conn: asyncpg.Connection, text: str, row_limit: int, outcome: Outcome) -> None:
    prepared = await conn.prepare(text)
    attributes = prepared.get_attributes()
    if attributes:
        cursor = await prepared.cursor()
        rows = await cursor.fetch(row_limit + 1)
        outcome.columns = [a.name for a in attributes]
        outcome.types = [a.type.name for a in attributes]
        outcome.truncated = len(rows) > row_limit
        outcome.rows = [tuple(r) for r in rows[:row_limit]]
        outcome.status = f"{len(outcome.rows)}{'+' if outcome.truncated else ''} row(s)"
    else:
        await prepared.fetch()
        outcome.status = prepared.get_statusmsg() or "done"


def _error(exc: asyncpg.PostgresError, script: str, offset: int, statement: int) -> SqlError:
    err = SqlError(str(exc.args[0]) if exc.args else type(exc).__name__, getattr(exc, "sqlstate", "") or "",
                   getattr(exc, "detail", None), getattr(exc, "hint", None), statement)
    position = getattr(exc, "position", None)
    if position and str(position).isdigit():
        at = offset + int(position) - 1
        err.line, err.column = line_col(script, at)
        err.excerpt = script.splitlines()[err.line - 1] if script.splitlines() else ""
    return err
