"""What Studio reads from pg_catalog, as the database owner: schemas and tables with row counts,
RLS and policy counts, and every policy (the grid and API docs read REST's schema cache instead).

Row counts are exact for tables the planner thinks small (below EXACT_BELOW rows), the planner's
estimate otherwise, so the list stays fast on large databases."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from localbase.rest.sql import ident

EXACT_BELOW = 50_000
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")

TABLES_SQL = """
select n.nspname as schema, c.relname as name, c.relkind::text as kind, c.reltuples::bigint as estimate,
       c.relrowsecurity as rls, c.relforcerowsecurity as rls_forced,
       (select count(*) from pg_policy p where p.polrelid = c.oid)::int as policies,
       obj_description(c.oid, 'pg_class') as comment,
       coalesce('security_invoker=true' = any(c.reloptions) or 'security_invoker=on' = any(c.reloptions), false)
         as security_invoker
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p', 'v', 'm', 'f') and not c.relispartition
  and n.nspname <> all($1::text[]) and n.nspname not like 'pg\\_temp\\_%' and n.nspname not like 'pg\\_toast\\_temp\\_%'
order by 1, 2
"""

POLICIES_SQL = """
select schemaname as schema, tablename as table, policyname as name, permissive, roles::text[] as roles,
       cmd, qual, with_check
from pg_policies where schemaname <> all($1::text[]) order by 1, 2, 3
"""


@dataclass
class TableInfo:
    schema: str
    name: str
    kind: str  # r table, p partitioned, v view, m materialized view, f foreign
    rows: int | None  # None: unknown (never analyzed and too big to count, or not countable)
    exact: bool
    rls: bool
    rls_forced: bool
    policies: int
    comment: str | None
    security_invoker: bool

    @property
    def kind_name(self) -> str:
        return {"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view",
                "f": "foreign table"}[self.kind]

    @property
    def is_view(self) -> bool:
        return self.kind in ("v", "m")


@dataclass
class Policy:
    schema: str
    table: str
    name: str
    permissive: bool
    roles: list[str]
    command: str  # ALL, SELECT, INSERT, UPDATE, DELETE
    using: str | None
    check: str | None


async def tables(conn: asyncpg.Connection, *, count: bool = True) -> list[TableInfo]:
    rows = await conn.fetch(TABLES_SQL, list(SYSTEM_SCHEMAS))
    found = [TableInfo(r["schema"], r["name"], r["kind"], r["estimate"] if r["estimate"] >= 0 else None, False,
                       r["rls"], r["rls_forced"], r["policies"], r["comment"], r["security_invoker"]) for r in rows]
    if count:
        await _exact_counts(conn, [t for t in found if t.kind in ("r", "p", "m") and (t.rows or 0) < EXACT_BELOW])
    return found


async def _exact_counts(conn: asyncpg.Connection, small: list[TableInfo]) -> None:
    """One statement counting every small table (the planner's estimate is stale after inserts
    until the next analyze)."""
    for start in range(0, len(small), 200):
        batch = small[start:start + 200]
        parts = [f"select {i} as i, count(*) as n from {ident(t.schema)}.{ident(t.name)}" for i, t in enumerate(batch)]
        async with conn.transaction(readonly=True):
            await conn.execute("set local statement_timeout = '5s'")
            try:
                rows = await conn.fetch(" union all ".join(parts))
            except asyncpg.QueryCanceledError:
                return  # estimates then: a slow count must not hold the page
        for r in rows:
            batch[r["i"]].rows, batch[r["i"]].exact = r["n"], True


async def policies(conn: asyncpg.Connection) -> list[Policy]:
    rows = await conn.fetch(POLICIES_SQL, list(SYSTEM_SCHEMAS))
    return [Policy(r["schema"], r["table"], r["name"], r["permissive"] == "PERMISSIVE", list(r["roles"]), r["cmd"],
                   r["qual"], r["with_check"]) for r in rows]


async def column_comments(conn: asyncpg.Connection, schema: str, table: str) -> dict[str, str]:
    rows = await conn.fetch(
        "select a.attname as name, col_description(a.attrelid, a.attnum) as comment from pg_attribute a "
        "join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = $1 and c.relname = $2 and a.attnum > 0 and not a.attisdropped", schema, table)
    return {r["name"]: r["comment"] for r in rows if r["comment"]}
