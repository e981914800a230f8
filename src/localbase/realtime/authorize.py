"""Authorize stage: for one row change and the subscribers that listen to its table, PostgreSQL
says which (role, JWT claims) contexts may SELECT the row, which filter lists it matches, and
gives the row as typed JSON. One round trip per row change, on a dedicated connection as
`supabase_realtime_admin`; the SQL lives in database/sql/30_realtime.sql.

The row checked is the row as committed (the WAL image: the new row for INSERT/UPDATE, the old
row for DELETE), not the table's current state, so a later change cannot leak an earlier one
and a DELETE can be checked at all (with replica identity full; with a key-only old image, the
policies see NULL in the other columns and usually deny).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from localbase.realtime.pgoutput import RowChange

log = logging.getLogger("localbase.realtime")

EVALUATE = """
select realtime.typed($1, $2) as record,
       realtime.typed($1, $3) as old_record,
       realtime.authorize($1, $4, $5::text[], $6::text[]) as visible,
       realtime.match($1, $4, $7::text[]::jsonb[]) as matched
"""


@dataclass
class Verdict:
    record: dict[str, Any] | None
    old_record: dict[str, Any] | None
    visible: list[bool | None]  # per context
    matched: list[bool]  # per filter list


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


async def init_connection(conn: asyncpg.Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(typename, encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")


async def init_authorize_connection(conn: asyncpg.Connection) -> None:
    await init_connection(conn)
    conn.add_log_listener(_log_notice)


def _log_notice(conn, message) -> None:  # WARNINGs raised by realtime.authorize (a policy failed)
    log.warning("%s", message.message)


class Authorizer:
    def __init__(self, conn: asyncpg.Connection):
        self.conn = conn
        self._columns: dict[int, list[dict[str, str]]] = {}
        self.stats = {"evaluations": 0, "contexts_checked": 0, "failures": 0}

    def forget(self, relid: int) -> None:
        """The relation was (re)announced by the stream: its columns may have changed."""
        self._columns.pop(relid, None)

    async def columns(self, relid: int) -> list[dict[str, str]]:
        cols = self._columns.get(relid)
        if cols is None:
            cols = await self.conn.fetchval("select realtime.columns($1)", relid)
            self._columns[relid] = cols
        return cols

    async def evaluate(self, change: RowChange, contexts: list[tuple[str, str]],
                       filters: list[list]) -> Verdict:
        """contexts: (role, claims as JSON text); filters: compiled filter lists (filters.py)."""
        image = change.old if change.kind == "DELETE" else change.new
        self.stats["evaluations"] += 1
        self.stats["contexts_checked"] += len(contexts)
        row = await self.conn.fetchrow(
            EVALUATE, change.relation.relid, change.new, change.old, image,
            [c[0] for c in contexts], [c[1] for c in contexts], [_dumps(f) for f in filters])
        return Verdict(row["record"], row["old_record"], list(row["visible"] or []), list(row["matched"] or []))


async def validate_binding(conn: asyncpg.Connection, schema: str, table: str | None,
                           filters: list | None) -> int | None:
    """The table's oid (None for a whole-schema binding). Raises ValueError with a message for
    the client when the table does not exist or a filter is invalid for its columns."""
    if table is None or table == "*":
        if filters:
            raise ValueError("filters need a table")
        ok = await conn.fetchval("select exists(select 1 from pg_namespace where nspname = $1)", schema)
        if not ok and schema != "*":
            raise ValueError(f"schema {schema} does not exist")
        return None
    relid = await conn.fetchval(
        "select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = $1 and c.relname = $2 and c.relkind in ('r', 'p')", schema, table)
    if relid is None:
        raise ValueError(f"table {schema}.{table} does not exist")
    if filters:
        try:
            # compile the filters and cast every value to its column's type once, on an empty row
            await conn.fetchval("select realtime.match($1, '{}'::jsonb, array[$2::jsonb])", relid, filters)
        except asyncpg.PostgresError as exc:
            raise ValueError(f"invalid filter: {exc.args[0] if exc.args else exc}") from None
    return relid
