"""The schema cache: tables, views, columns, keys, relationships and functions of the exposed
schemas, read from pg_catalog. Every identifier a request names is checked against it.

Reloaded on `NOTIFY pgrst, 'reload schema'` (as PostgREST), which the migration runner sends,
and whenever the listening connection comes back after losing the database."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import asyncpg

from localbase.database.listener import Listener
from localbase.process import tasks
from localbase.rest import db_config
from localbase.rest.db_config import ApiConfig
from localbase.settings import Settings

log = logging.getLogger("localbase.rest")


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str  # format_type(), e.g. "integer", "text[]", "timestamp with time zone"
    type_oid: int
    nullable: bool
    default: str | None  # the default expression's SQL text
    generated: bool
    position: int
    # a computed field: the function (schema, name) called with the row, `fn(row)`
    computed: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class ForeignKey:
    name: str
    schema: str
    table: str
    columns: tuple[str, ...]
    ref_schema: str
    ref_table: str
    ref_columns: tuple[str, ...]
    via_view: bool = False  # inferred through a view (a copy of a base table's key)


@dataclass(slots=True)
class Table:
    schema: str
    name: str
    kind: str  # r table, v view, m materialized view, f foreign, p partitioned
    columns: dict[str, Column]
    primary_key: tuple[str, ...]
    unique_keys: tuple[tuple[str, ...], ...]
    insertable: bool
    updatable: bool
    deletable: bool
    foreign_keys: list[ForeignKey] = field(default_factory=list)  # where this table refers out
    referenced_by: list[ForeignKey] = field(default_factory=list)  # where others refer to it
    # what reads may select, filter and order by: the columns and the computed fields (functions
    # of one argument, the table's row type, returning one value: `select=full_name`)
    read_columns: dict[str, Column] = field(default_factory=dict)
    row_type: int = 0  # the oid of its composite type (computed fields and relationships take it)

    @property
    def is_view(self) -> bool:
        return self.kind in ("v", "m")


@dataclass(frozen=True, slots=True)
class Arg:
    name: str
    type: str
    type_oid: int
    has_default: bool
    variadic: bool


@dataclass(frozen=True, slots=True)
class Function:
    schema: str
    name: str
    oid: int
    args: tuple[Arg, ...]
    return_type: str
    return_type_oid: int
    returns_set: bool
    returns_table: tuple[str, str] | None  # (schema, name) when it returns rows of a table/view
    returns_composite: bool  # rows with columns (a table type, a composite or OUT/TABLE params)
    returns_void: bool
    volatility: str  # i, s or v
    out_columns: tuple[Column, ...] = ()  # OUT / TABLE parameters, when it returns such rows
    rows: float = 0  # the planner's estimate (ROWS); `setof t rows 1` marks a to-one computed relationship
    description: str | None = None  # COMMENT ON FUNCTION (PostgREST orders overloads by it)

    @property
    def callable(self) -> bool:
        """Reachable at /rpc as PostgREST allows: every argument named, or one unnamed argument of a type
        that takes a raw body (bytea, json, jsonb, text, xml)."""
        unnamed = [a for a in self.args if not a.name]
        return not unnamed or len(unnamed) == 1 and unnamed[0].type in RAW_BODY_TYPES

    def sort_key(self) -> tuple:
        """PostgREST's order of overloads: fewer arguments first, then comment, then the arguments."""
        return (len(self.args), self.description is not None, self.description or "",
                [(a.name, a.type, a.type, not a.has_default, a.variadic) for a in self.args])

    @property
    def required(self) -> set[str]:
        return {a.name for a in self.args if not a.has_default and not a.variadic}


RAW_BODY_TYPES = ("bytea", "json", "jsonb", "text", "xml")


@dataclass
class Schema:
    tables: dict[tuple[str, str], Table]
    functions: dict[tuple[str, str], list[Function]]
    role_settings: dict[str, dict[str, str]]
    exposed: tuple[str, ...]
    config: ApiConfig = field(default_factory=ApiConfig)  # [api] and the connecting role's pgrst.* settings
    geojson: str | None = None  # PostGIS's ST_AsGeoJSON(record), qualified, when PostGIS is installed
    # what later stages derive from this (immutable) cache once, e.g. a table's relationships
    memo: dict = field(default_factory=dict, repr=False, compare=False)

    def table(self, schema: str, name: str) -> Table | None:
        return self.tables.get((schema, name))

    def function_overloads(self, schema: str, name: str) -> list[Function]:
        return self.functions.get((schema, name), [])


TABLES_SQL = """
select n.nspname as schema, c.relname as name, c.relkind::text as kind, c.oid, c.reltype,
       (c.relkind in ('r', 'p', 'f') or pg_relation_is_updatable(c.oid, true) & 8 = 8) as insertable,
       (c.relkind in ('r', 'p', 'f') or pg_relation_is_updatable(c.oid, true) & 4 = 4) as updatable,
       (c.relkind in ('r', 'p', 'f') or pg_relation_is_updatable(c.oid, true) & 16 = 16) as deletable
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = any($1::text[]) and c.relkind in ('r', 'v', 'm', 'f', 'p')
  and not c.relispartition
"""

COLUMNS_SQL = """
select a.attrelid as oid, a.attname as name, format_type(a.atttypid, a.atttypmod) as type,
       a.atttypid as type_oid, not a.attnotnull as nullable,
       -- as PostgREST reads a default (missing=default uses it): an identity's next value, a domain's default
       case when a.attidentity = 'd' then format('nextval(%L)', pg_get_serial_sequence(
                 format('%I.%I', n.nspname, c.relname), a.attname)::regclass)
            when t.typbasetype <> 0 and d.adbin is null then pg_get_expr(t.typdefaultbin, 0)
            when a.attgenerated <> '' then null
            else pg_get_expr(d.adbin, d.adrelid) end as "default",
       a.attgenerated <> '' as generated, a.attnum as position, a.attidentity <> '' as identity
from pg_attribute a
join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
join pg_type t on t.oid = a.atttypid
left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
where n.nspname = any($1::text[]) and c.relkind in ('r', 'v', 'm', 'f', 'p')
  and a.attnum > 0 and not a.attisdropped
order by a.attrelid, a.attnum
"""

KEYS_SQL = """
select con.conrelid as oid, con.contype::text as type,
       array(select a.attname from unnest(con.conkey) with ordinality k(n, i)
             join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.n order by k.i)::text[] as columns
from pg_constraint con join pg_namespace n on n.oid = con.connamespace
where n.nspname = any($1::text[]) and con.contype in ('p', 'u')
union all
select ix.indrelid, 'i'::text,
       array(select a.attname from unnest(ix.indkey) with ordinality k(n, i)
             join pg_attribute a on a.attrelid = ix.indrelid and a.attnum = k.n order by k.i)::text[]
from pg_index ix join pg_class c on c.oid = ix.indrelid join pg_namespace n on n.oid = c.relnamespace
where n.nspname = any($1::text[]) and ix.indisunique and ix.indpred is null and not ix.indisprimary
  and 0 <> all(ix.indkey)
"""

FOREIGN_KEYS_SQL = """
select con.conname as name, n1.nspname as schema, c1.relname as table,
       array(select a.attname from unnest(con.conkey) with ordinality k(n, i)
             join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.n order by k.i)::text[] as columns,
       n2.nspname as ref_schema, c2.relname as ref_table,
       array(select a.attname from unnest(con.confkey) with ordinality k(n, i)
             join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.n order by k.i)::text[] as ref_columns
from pg_constraint con
join pg_class c1 on c1.oid = con.conrelid join pg_namespace n1 on n1.oid = c1.relnamespace
join pg_class c2 on c2.oid = con.confrelid join pg_namespace n2 on n2.oid = c2.relnamespace
where con.contype = 'f' and (n1.nspname = any($1::text[]) or n2.nspname = any($1::text[]))
"""

FUNCTIONS_SQL = """
select n.nspname as schema, p.proname as name, p.oid,
       coalesce(p.proargnames, '{}') as arg_names,
       coalesce(p.proallargtypes::oid[], p.proargtypes::oid[]) as arg_types,
       coalesce(p.proargmodes::text[], array_fill('i'::text, array[p.pronargs::int])) as arg_modes,
       p.pronargdefaults as n_defaults, p.pronargs as n_in,
       format_type(p.prorettype, null) as return_type, p.prorettype as return_type_oid,
       p.proretset as returns_set, p.provolatile::text as volatility,
       rn.nspname as ret_schema, rc.relname as ret_table,
       (t.typtype = 'c' or p.proargmodes && array['o', 't', 'b']::"char"[]) as returns_composite,
       p.prorettype = 'void'::regtype as returns_void, p.provariadic <> 0 as variadic, p.prorows as rows,
       d.description
from pg_proc p
left join pg_description d on d.objoid = p.oid and d.classoid = 'pg_proc'::regclass and d.objsubid = 0
join pg_namespace n on n.oid = p.pronamespace
join pg_type t on t.oid = p.prorettype
left join pg_class rc on rc.oid = t.typrelid and rc.relkind in ('r', 'v', 'm', 'f', 'p')
left join pg_namespace rn on rn.oid = rc.relnamespace
where n.nspname = any($1::text[]) and p.prokind in ('f', 'p')
"""

# PostGIS (any schema): GeoJSON output (`Accept: application/geo+json`) uses its ST_AsGeoJSON(record).
GEOJSON_SQL = """
select format('%I.%I', n.nspname, p.proname) from pg_proc p join pg_namespace n on n.oid = p.pronamespace
where p.proname = 'st_asgeojson' and p.pronargs >= 1 and p.proargtypes[0] = 'record'::regtype limit 1
"""

ROLE_SETTINGS_SQL = """
select r.rolname as role, s.setconfig as config
from pg_db_role_setting s join pg_roles r on r.oid = s.setrole
where s.setdatabase in (0, (select oid from pg_database where datname = current_database()))
  and r.rolname in ('anon', 'authenticated', 'service_role')
"""


async def introspect(conn: asyncpg.Connection, exposed: tuple[str, ...], config: ApiConfig | None = None,
                     rest_role: str = "authenticator") -> Schema:
    from localbase.rest import schema_derived  # it builds on this module's types
    schemas = list(exposed)
    async with conn.transaction(readonly=True):
        api_config = await db_config.read(conn, rest_role, config or ApiConfig())
        trows = await conn.fetch(TABLES_SQL, schemas)
        crows = await conn.fetch(COLUMNS_SQL, schemas)
        krows = await conn.fetch(KEYS_SQL, schemas)
        frows = await conn.fetch(FOREIGN_KEYS_SQL, schemas)
        prows = await conn.fetch(FUNCTIONS_SQL, schemas)
        vrows = await conn.fetch(schema_derived.VIEW_SOURCES_SQL, schemas)
        srows = await conn.fetch(ROLE_SETTINGS_SQL)
        geojson = await conn.fetchval(GEOJSON_SQL)
    by_oid: dict[int, Table] = {}
    by_row_type: dict[int, Table] = {}
    tables: dict[tuple[str, str], Table] = {}
    for r in trows:
        new = Table(r["schema"], r["name"], r["kind"], {}, (), (), r["insertable"], r["updatable"], r["deletable"])
        new.row_type = r["reltype"]
        by_oid[r["oid"]] = new
        by_row_type[r["reltype"]] = new
        tables[(new.schema, new.name)] = new
    for r in crows:
        t = by_oid.get(r["oid"])
        if t is not None:
            t.columns[r["name"]] = Column(r["name"], r["type"], r["type_oid"], r["nullable"], r["default"],
                                          r["generated"],
                                          r["position"])
    for r in krows:
        t = by_oid.get(r["oid"])
        if t is None:
            continue
        cols = tuple(r["columns"])
        if r["type"] == "p":
            t.primary_key = cols
        if cols not in t.unique_keys:
            t.unique_keys = (*t.unique_keys, cols)
    for r in frows:
        fk = ForeignKey(r["name"], r["schema"], r["table"], tuple(r["columns"]),
                        r["ref_schema"], r["ref_table"], tuple(r["ref_columns"]))
        if (src := tables.get((fk.schema, fk.table))) is not None:
            src.foreign_keys.append(fk)
        if (dst := tables.get((fk.ref_schema, fk.ref_table))) is not None:
            dst.referenced_by.append(fk)
    schema_derived.relationships_through_views(vrows, by_oid, tables)
    functions: dict[tuple[str, str], list[Function]] = {}
    type_names = await _type_names(conn, {oid for r in prows for oid in r["arg_types"]})
    for r in prows:
        args = []
        names, types, modes = r["arg_names"], r["arg_types"], r["arg_modes"]
        in_positions = [i for i, m in enumerate(modes) if m in ("i", "b", "v")]
        first_default = len(in_positions) - r["n_defaults"]
        for k, i in enumerate(in_positions):
            name = names[i] if i < len(names) else ""
            args.append(Arg(name, type_names.get(types[i], "unknown"), types[i], k >= first_default, modes[i] == "v"))
        outs = tuple(
            Column(names[i] if i < len(names) else f"column{i}", type_names.get(types[i], "unknown"), types[i],
                   True, None, False, k + 1)
            for k, i in enumerate(i for i, m in enumerate(modes) if m in ("o", "b", "t")))
        ret_table = (r["ret_schema"], r["ret_table"]) if r["ret_table"] else None
        functions.setdefault((r["schema"], r["name"]), []).append(Function(
            r["schema"], r["name"], r["oid"], tuple(args), r["return_type"], r["return_type_oid"],
            r["returns_set"], ret_table, bool(r["returns_composite"]), r["returns_void"], r["volatility"], outs,
            float(r["rows"]), r["description"]))
    for overloads in functions.values():
        overloads.sort(key=Function.sort_key)
    schema_derived.computed_fields(functions, by_row_type)
    role_settings: dict[str, dict[str, str]] = {}
    for r in srows:
        for item in r["config"] or []:
            key, _, value = item.partition("=")
            role_settings.setdefault(r["role"], {})[key] = value
    return Schema(tables, functions, role_settings, exposed, api_config, geojson)


async def _type_names(conn: asyncpg.Connection, oids: set[int]) -> dict[int, str]:
    rows = await conn.fetch("select oid, format_type(oid, null) as name from pg_type where oid = any($1::oid[])",
                            list(oids))
    return {r["oid"]: r["name"] for r in rows}


class SchemaCache:
    """Holds the current Schema; reloaded on channel `pgrst` (the database's shared listener)."""

    def __init__(self, admin_dsn: str, exposed: tuple[str, ...], config: ApiConfig | None = None,
                 rest_role: str = "authenticator"):
        self.admin_dsn = admin_dsn
        self.exposed = exposed
        self.config = config or ApiConfig()
        self.rest_role = rest_role
        self.schema: Schema | None = None
        self.version = 0
        self._task: asyncio.Task | None = None
        self._reload = asyncio.Event()

    @classmethod
    async def start(cls, db, settings: Settings) -> SchemaCache:
        cache = cls(db.admin_dsn, tuple(settings.api_schemas),
                    db_config.from_toml(settings.section("api"), settings.max_rows),
                    urlsplit(db.rest_dsn).username or "authenticator")
        await cache.reload()
        cache._task = asyncio.create_task(cache._listen(db.listener), name="schema-cache-listener")
        return cache

    async def reload(self) -> None:
        conn = await asyncpg.connect(self.admin_dsn, server_settings={"application_name": "localbase-schema"})
        try:
            self.schema = await introspect(conn, self.exposed, self.config, self.rest_role)
        finally:
            await conn.close()
        self.version += 1
        log.info("schema cache loaded: %d relations, %d functions", len(self.schema.tables),
                 len(self.schema.functions))

    async def stop(self) -> None:
        await tasks.cancel(self._task)

    async def wait_for_version(self, version: int, timeout: float = 5.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while self.version < version and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)

    async def _listen(self, listener: Listener) -> None:
        """Reload on NOTIFY pgrst ('reload schema' / 'reload config' / empty), and after the
        listening connection came back (the schema may have changed meanwhile)."""
        def on_notify(payload: str) -> None:
            if payload in ("", "reload schema", "reload config"):
                self._reload.set()

        def on_connect(again: bool) -> None:
            if again:
                self._reload.set()

        unlisten = await listener.listen("pgrst", on_notify, on_connect)
        try:
            while True:
                await self._reload.wait()
                self._reload.clear()
                try:
                    await self.reload()
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.error("schema cache reload failed: %s", exc)
                    self._reload.set()
                    await asyncio.sleep(0.5)
        finally:
            await unlisten()
