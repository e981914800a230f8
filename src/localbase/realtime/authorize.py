"""Authorize stage: for a batch of row changes of one table and the subscribers that listen to
it, PostgreSQL says which changes each (role, JWT claims) context may SELECT, which changes each
filter list matches, and gives the rows as typed JSON. One round trip per table per batch (plus
one when contexts are new to the connection: they are told once, then named by number), on a
dedicated connection as `supabase_realtime_admin`; the SQL lives in database/sql/30_realtime.sql
(realtime.visible_each: per role one statement over every context and row when the policies have
no sub-select, else per context one execution of a statement prepared once per role).

Many contexts ([realtime] authorize_connections > 1, at least SPLIT_AT of them and SPLIT_WORK
checks in the batch): the contexts are split between that many connections, checked at the same
time by as many PostgreSQL backends (one CPU each), so a batch for a thousand signed-in
subscribers waits for the slowest part, not for the sum; the first connection also types the
rows and matches the filters.

The row checked is the row as committed (the WAL image: the new row for INSERT/UPDATE, the old
row for DELETE), not the table's current state, so a later change cannot leak an earlier one
and a DELETE can be checked at all (with replica identity full; with a key-only old image, the
policies see NULL in the other columns and usually deny).

The connection is opened when first needed (the first postgres_changes subscriber, or its first
change), not at start-up: a server nobody subscribes to keeps no authorization backend (~2 MB of
PostgreSQL memory), and one whose subscribers left is closed again after [realtime]
authorize_idle_seconds (fanout.py), with what it was told.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg
import orjson

from localbase.database.pool import init_connection
from localbase.realtime.pgoutput import RowChange

if TYPE_CHECKING:
    from localbase.realtime.batch import Identity

log = logging.getLogger("localbase.realtime")
# Role attributes (BYPASSRLS) and memberships change without a DDL event: cached shapes are
# asked again after this long even when no DDL was announced.
SHAPE_TTL_SECONDS = 30.0
# A batch is split between connections only with at least SPLIT_AT contexts and SPLIT_WORK
# (contexts x changes) checks: each part repeats the per-batch work (typing the rows, building and
# preparing the predicate), which costs more than it saves on small batches (measured: 100
# subscribers with ~4 changes per batch gained no latency and spent ~25% more CPU per delivery).
SPLIT_AT = 64
SPLIT_WORK = 2000
HELPER_RETRY_SECONDS = 30.0

# Contexts are named by number (realtime.remember_contexts): told once per connection, not sent
# again with every batch. At most TOLD_AT_MOST are kept per connection, then they are told again.
TOLD_AT_MOST = 20000
EVALUATE = """
select realtime.typed_each($1, $2::jsonb[]) as records,
       realtime.typed_each($1, $3::jsonb[]) as old_records,
       realtime.visible_known($1, $4::jsonb[], $5::integer[]) as visible,
       realtime.match_each($1, $4::jsonb[], $6::text[]::jsonb[]) as matched
"""
MATCH = "select realtime.match_each($1, $2::jsonb[], $3::text[]::jsonb[])"
VISIBLE = "select realtime.visible_known($1, $2::jsonb[], $3::integer[])"
REMEMBER = ("select realtime.remember_contexts($1::integer[], $2::text[], $3::text[], $4::text[], $5::text[], "
            "$6::text[])")


@dataclass
class Verdict:
    """What PostgreSQL answered for a batch of changes of one table (indexes are 0-based)."""

    records: list[dict[str, Any] | None]  # per change
    old_records: list[dict[str, Any] | None]  # per change
    visible: list[list[int]]  # per context: the changes it may see
    matched: list[list[int]]  # per filter list: the changes it matches

    @classmethod
    def merge(cls, parts: list[Verdict | None], contexts: int, filters: int) -> Verdict:
        """The verdicts of single changes as one; a None part (its check failed) shows nothing."""
        return cls([p.records[0] if p else None for p in parts], [p.old_records[0] if p else None for p in parts],
                   [[j for j, p in enumerate(parts) if p and p.visible[k]] for k in range(contexts)],
                   [[j for j, p in enumerate(parts) if p and p.matched[f]] for f in range(filters)])


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


async def init_authorize_connection(conn: asyncpg.Connection) -> None:
    await init_connection(conn)
    conn.add_log_listener(_log_notice)


def _log_notice(conn, message) -> None:  # WARNINGs raised by realtime.visible_each (a policy failed)
    log.warning("%s", message.message)


@dataclass(frozen=True)
class Shape:
    """What a subscriber's role may be shown of one table's changes (realtime.visible_columns):
    the columns of `record` and `old_record` (None: all of the image), and the `columns` list."""

    record: frozenset[str] | None
    old_record: frozenset[str] | None
    columns: list[dict[str, str]]
    fetched: float

    @classmethod
    def of(cls, answer: dict[str, Any], fetched: float) -> Shape:
        every = answer["every"]
        record, old = answer["record"], answer["old_record"]
        return cls(None if len(record) == every else frozenset(record),
                   None if len(old) == every else frozenset(old), answer["columns"], fetched)

    @staticmethod
    def cut(image: dict[str, Any] | None, keep: frozenset[str] | None) -> dict[str, Any]:
        """The image with only the `keep` columns (None: all of them)."""
        if not image:
            return {}
        if keep is None:
            return image
        return {k: v for k, v in image.items() if k in keep}


class Unavailable(ConnectionError):
    """The authorization connection could not be opened (PostgreSQL refused it or is away): the
    changes are checked again once it can be (fan-out retries, as after a lost connection)."""


class Authorizer:
    """The authorization connection, and per (table, role) what PostgreSQL says the role may be
    shown of a change (Shape). Shapes are forgotten when the stream announces a relation again,
    after any DDL (realtime.announce_ddl's message, in commit order), on a new connection, and
    after SHAPE_TTL_SECONDS (role attributes and memberships change without DDL events).

    `conn`: a connection to use (tests); else it is opened with `connect` when first needed
    (open()), and again after drop() or close()."""

    def __init__(self, conn: asyncpg.Connection | None = None, extra: int = 0,
                 connect: Callable[[], Awaitable[asyncpg.Connection]] | None = None):
        self.conn = conn
        self._opening = asyncio.Lock()
        self.used_at = time.monotonic()  # the last check made (or the connection opened)
        # up to `extra` more connections, each checking a share of many contexts; opened (with
        # `connect`) by the first batch that has that many contexts, so a small project pays nothing
        self.helpers: list[asyncpg.Connection] = []
        self._extra = extra if connect is not None else 0
        self._connect = connect
        self._retry_at = 0.0
        self._shapes: dict[tuple[int, str], Shape] = {}
        # per connection (by id, with the connection itself to tell a new one at the same address):
        # the contexts it was told and their numbers
        self._told: dict[int, tuple[asyncpg.Connection, dict[Identity, int]]] = {}
        self._numbered = 0
        self._generation = 0  # bumped on every forget: an answer fetched before it is not kept
        self.stats = {"evaluations": 0, "authorize_queries": 0, "contexts_checked": 0, "failures": 0,
                      "shape_queries": 0, "split_queries": 0, "authorize_connects": 0, "authorize_closes": 0}

    def forget(self, relid: int | None = None) -> None:
        """The relation was (re)announced by the stream, or (None) some DDL committed."""
        self._generation += 1
        if relid is None:
            self._shapes.clear()
        else:
            for key in [k for k in self._shapes if k[0] == relid]:
                del self._shapes[key]

    async def open(self) -> asyncpg.Connection:
        """The authorization connection, opened now if there is none (or it was closed). Raises
        Unavailable when it cannot be opened."""
        async with self._opening:
            conn = self.conn
            if conn is not None and not conn.is_closed():
                return conn
            if self._connect is None:
                raise Unavailable("the authorization connection is closed")
            self.drop()
            try:
                conn = await self._connect()
            except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:  # OSError and timeouts pass as they are
                raise Unavailable(f"opening the authorization connection failed: {exc}") from exc
            self.conn = conn
            self.used_at = time.monotonic()
            self.stats["authorize_connects"] += 1
            return conn

    def _reset(self) -> None:
        """No connection: what the old ones were told and the shapes asked on them are gone too
        (DDL may happen before the next one is opened)."""
        self.conn = None
        self.helpers = []
        self._told.clear()
        self.forget()

    def drop(self) -> None:
        """The connections were lost (an outage, a terminated backend): let them go; the next
        check opens a new one."""
        for conn in self.connections:
            if not conn.is_closed():
                conn.terminate()
        self._reset()

    async def close(self) -> None:
        """Close the connections (idle, or the service stops); the next check opens a new one."""
        gone = self.connections
        self._reset()
        if gone:
            self.stats["authorize_closes"] += 1
        for conn in gone:
            try:
                await asyncio.wait_for(conn.close(), 2)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                conn.terminate()

    def idle_for(self) -> float:
        """Seconds since the last check, 0 when no connection is open."""
        return time.monotonic() - self.used_at if self.conn is not None else 0.0

    async def _helpers(self) -> list[asyncpg.Connection]:
        """The helper connections, opened when first needed; one that cannot be opened now
        (max_connections reached, say) is tried again HELPER_RETRY_SECONDS later, and meanwhile
        the batch is checked on the connections there are."""
        if self._connect is None or len(self.helpers) >= self._extra or time.monotonic() < self._retry_at:
            return self.helpers
        try:
            while len(self.helpers) < self._extra:
                self.helpers.append(await self._connect())
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            self._retry_at = time.monotonic() + HELPER_RETRY_SECONDS
            log.warning("realtime: opening another authorization connection failed (%s); checking on %d for now",
                        exc, 1 + len(self.helpers))
        return self.helpers

    @property
    def connections(self) -> list[asyncpg.Connection]:
        return [self.conn, *self.helpers] if self.conn is not None else list(self.helpers)

    async def shapes(self, relid: int, roles: list[str]) -> dict[str, Shape]:
        """Each role's Shape for the table: from the cache, the missing ones in one query."""
        now = time.monotonic()
        found: dict[str, Shape] = {}
        missing = []
        for role in roles:
            shape = self._shapes.get((relid, role))
            if shape is not None and now - shape.fetched < SHAPE_TTL_SECONDS:
                found[role] = shape
            else:
                missing.append(role)
        if missing:
            conn = await self.open()
            self.used_at = now
            generation = self._generation
            self.stats["shape_queries"] += 1
            rows = await conn.fetch(
                "select r as role, realtime.visible_columns($1, r) as shape from unnest($2::name[]) as r",
                relid, missing)
            for row in rows:
                shape = Shape.of(row["shape"], now)
                found[row["role"]] = shape
                if generation == self._generation:
                    self._shapes[(relid, row["role"])] = shape
        return found

    async def evaluate(self, changes: list[RowChange], contexts: list[Identity], filters: list[list],
                       reachable: Callable[[list[list[int]]], list[int]] | None = None) -> Verdict:
        """changes: of one table, in commit order; contexts: (role, claims as JSON text, and the
        claims' sub, role and email: batch.Identity); filters: compiled filter lists (filters.py).
        The row checked is the new image, the old one for a DELETE. `reachable`: given what each
        filter list matched, the contexts that may still receive something (filtered
        subscriptions whose filters matched nothing need no RLS check): then the filters are
        matched first and only those contexts are checked."""
        images = [c.old if c.kind == "DELETE" else c.new for c in changes]
        relid = changes[0].relation.relid
        conn = await self.open()
        self.used_at = time.monotonic()
        if filters and reachable is not None:
            self.stats["authorize_queries"] += 1
            matched = [[n - 1 for n in found] for found in await conn.fetchval(
                MATCH, relid, images, [_dumps(f) for f in filters])]
            keep = reachable(matched)
            if len(keep) < len(contexts):
                visible: list[list[int]] = [[] for _ in contexts]
                if not keep:
                    self.stats["evaluations"] += len(changes)
                    return Verdict([None] * len(changes), [None] * len(changes), visible, matched)
                some = await self._evaluate(conn, changes, images, [contexts[k] for k in keep], [])
                for k, seen in zip(keep, some.visible, strict=True):
                    visible[k] = seen
                return Verdict(some.records, some.old_records, visible, matched)
        return await self._evaluate(conn, changes, images, contexts, filters)

    async def _evaluate(self, conn: asyncpg.Connection, changes: list[RowChange], images: list,
                        contexts: list[Identity], filters: list[list]) -> Verdict:
        self.stats["evaluations"] += len(changes)
        self.stats["authorize_queries"] += 1
        self.stats["contexts_checked"] += len(contexts) * len(changes)
        relid = changes[0].relation.relid
        split = len(contexts) >= SPLIT_AT and len(contexts) * len(changes) >= SPLIT_WORK
        helpers = await self._helpers() if split else []
        parts = _split(contexts, 1 + len(helpers))

        async def first() -> asyncpg.Record:
            numbers = await self._numbers(conn, parts[0])
            return await conn.fetchrow(EVALUATE, relid, [c.new for c in changes], [c.old for c in changes],
                                            images, numbers, [_dumps(f) for f in filters])

        async def more(helper: asyncpg.Connection, part: list[Identity]) -> Any:
            return await helper.fetchval(VISIBLE, relid, images, await self._numbers(helper, part))

        queries = [first(), *(more(helper, part) for helper, part in zip(helpers, parts[1:], strict=True))]
        if len(queries) > 1:
            self.stats["split_queries"] += len(queries)
        # every part is awaited before an error is raised: a connection is never left mid-query
        answers = await asyncio.gather(*queries, return_exceptions=True)
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
        row = answers[0]
        visible = [seen for answer in [row["visible"], *answers[1:]] for seen in answer]  # type: ignore[index]
        return Verdict(row["records"], row["old_records"],  # type: ignore[index]
                       [[n - 1 for n in seen] for seen in visible],
                       [[n - 1 for n in found] for found in row["matched"]])  # type: ignore[index]

    async def _numbers(self, conn: asyncpg.Connection, contexts: list[Identity]) -> list[int]:
        """The contexts' numbers on `conn`, telling it the ones it does not know yet (one
        statement). A number is kept only once PostgreSQL said it stored it."""
        kept = self._told.get(id(conn))
        if kept is None or kept[0] is not conn:
            kept = self._told[id(conn)] = (conn, {})
        told = kept[1]
        new = [c for c in dict.fromkeys(contexts) if c not in told]
        if new:
            if len(told) + len(new) > TOLD_AT_MOST:  # contexts of subscribers long gone, tokens refreshed
                await conn.execute("select realtime.forget_contexts()")
                told.clear()
                new = list(dict.fromkeys(contexts))
            numbers = list(range(self._numbered + 1, self._numbered + 1 + len(new)))
            self._numbered += len(new)
            added = await conn.fetchval(REMEMBER, numbers, *(list(column) for column in zip(*new, strict=True)))
            if added != len(new):
                raise RuntimeError(f"realtime: {added} of {len(new)} subscriber contexts stored")
            told.update(zip(new, numbers, strict=True))
        return [told[c] for c in contexts]


def _split(items: list, parts: int) -> list[list]:
    """`items` in `parts` consecutive slices of nearly equal size (order kept)."""
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for k in range(parts):
        end = start + size + (k < extra)
        out.append(items[start:end])
        start = end
    return out


async def validate_binding(conn: asyncpg.Connection, schema: str, table: str | None,
                           filters: list | None, role: str) -> int | None:
    """The table's oid (None for a whole-schema binding). Raises ValueError with a message for
    the client when the table does not exist, a filter is invalid for its columns, or filters on
    a column `role` may not SELECT (which would tell its values, change after change)."""
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
            await conn.fetchval("select realtime.match_each($1, array['{}'::jsonb], array[$2::jsonb])",
                                relid, filters)
        except asyncpg.PostgresError as exc:
            raise ValueError(f"invalid filter: {exc.args[0] if exc.args else exc}") from None
        hidden = await conn.fetchval(
            "select array_agg(c order by c) from unnest($3::text[]) as c "
            "where not has_column_privilege($1::name, $2::oid, c, 'SELECT')",
            role, relid, sorted({f[0] for f in filters}))
        if hidden:
            raise ValueError(f"permission denied for column {', '.join(hidden)} of table {table}")
    return relid
