"""Plan stage: a parsed request + the schema cache -> a validated tree the SQL stage renders.

Every table, column, relationship and function the request names is looked up here; anything
unknown becomes PostgREST's error before a statement is ever built."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from localbase.rest import errors
from localbase.rest.errors import RestError
from localbase.rest.relationships import Relationship, resolve
from localbase.rest.schema_cache import Column, Function, Schema, Table
from localbase.rest.types import Action, ApiRequest, Embed, Field, Filter, LogicTree, MediaType, OrderTerm, SelectField

STAR = "*"


@dataclass(slots=True)
class Source:
    """What a node reads from: a table/view, or a function call's rows."""
    table: Table | None
    columns: dict[str, Column]
    label: str  # for error messages: the table or function name


@dataclass(slots=True)
class SelectCol:
    field: Field
    column: Column | None  # None for "*" (and for `count()`)
    out: str
    cast: str | None
    aggregate: str | None = None  # count, sum, avg, max, min: the node groups by its other columns
    aggregate_cast: str | None = None


@dataclass(slots=True)
class Node:
    source: Source
    select: list[SelectCol | EmbedNode]
    filters: tuple[Filter | LogicTree, ...] = ()
    order: tuple[OrderTerm, ...] = ()
    offset: int = 0
    limit: int | None = None
    # `embed=not.is.null` / `embed=is.null` on an embedded resource: name -> must it have rows?
    embed_presence: dict[str, bool] | None = None


@dataclass(slots=True)
class EmbedNode:
    name: str  # key in the JSON output
    rel: Relationship
    node: Node
    inner: bool
    spread: bool
    hidden: bool = False  # an empty select, `rel()`: joined for its filters, not in the output


@dataclass(slots=True)
class ReadPlan:
    root: Node
    table: Table


@dataclass(slots=True)
class MutatePlan:
    kind: str  # insert | update | delete | upsert
    table: Table
    root: Node  # what to return (select/embeds over the affected rows) + the filters
    columns: tuple[str, ...] = ()
    on_conflict: tuple[str, ...] = ()
    merge: bool = True
    missing_default: bool = False


NOT_RAW = object()  # CallPlan.raw when the call names its arguments


@dataclass(slots=True)
class CallPlan:
    function: Function
    args: dict[str, Any]
    raw: Any  # the value of the function's one unnamed parameter (the request body), or NOT_RAW
    root: Node | None  # when the function returns rows with columns: filters/select apply
    scalar: bool
    offset: int = 0  # the page of a set of scalars (rows with columns page through `root`)
    limit: int | None = None


LEGACY_COUNT = "count"


def column_error(label: str, name: str) -> RestError:
    return errors.UNDEFINED_COLUMN(table=label, name=name)


class Planner:
    def __init__(self, schema: Schema, max_rows: int | None):
        self.schema = schema
        self.max_rows = max_rows

    # -- targets -------------------------------------------------------------------------------
    def pick_schema(self, requested: str | None) -> str:
        if requested is None:
            return self.schema.exposed[0]
        if requested not in self.schema.exposed:
            raise errors.SCHEMA_NOT_EXPOSED(schema=requested, exposed=", ".join(self.schema.exposed))
        return requested

    def table(self, schema_name: str, name: str) -> Table:
        table = self.schema.table(schema_name, name)
        if table is None:
            raise errors.TABLE_NOT_FOUND(schema=schema_name, name=name)
        return table

    # -- select trees --------------------------------------------------------------------------
    def node(self, source: Source, request, path: tuple[str, ...], select_items) -> Node:
        items: list[SelectCol | EmbedNode] = []
        for item in select_items:
            if isinstance(item, Embed):
                items.append(self._embed(source, request, path, item))
            else:
                items.append(self._select_col(source, item))
        filters, presence = _presence_filters(tuple(request.filters.get(path, ())), items, source)
        for f in filters:
            self._check_condition(source, f)
        order = tuple(request.orders.get(path, ()))
        for term in order:
            if term.relation is None:
                self._column(source, term.field.name)
        offset, limit = request.ranges.get(path, (0, None))
        return Node(source, items, filters, order, offset or 0, limit, presence or None)

    def _select_col(self, source: Source, item: SelectField) -> SelectCol:
        name = item.field.name
        if item.aggregate:
            if not self.schema.config.aggregates_enabled:  # PostgREST's default: db-aggregates-enabled = false
                raise errors.AGGREGATES_DISABLED()
            column = None if name == STAR else self._column(source, name)
            return SelectCol(item.field, column, item.alias or item.aggregate,
                             _cast_type(item.cast) if item.cast else None, item.aggregate,
                             _cast_type(item.aggregate_cast) if item.aggregate_cast else None)
        if name == STAR:
            return SelectCol(item.field, None, STAR, None)
        if name == LEGACY_COUNT and not item.field.json_path and name not in source.columns:
            # `rel(count)` / `select=count`: PostgREST's legacy row count, not gated as an aggregate.
            # The SQL is `alias."count"`, which PostgreSQL reads as count(alias) (functional notation).
            return SelectCol(item.field, None, item.alias or name, _cast_type(item.cast) if item.cast else None)
        column = self._column(source, name)
        out = item.alias or (_last_key(item.field) if item.field.json_path else name)
        return SelectCol(item.field, column, out, _cast_type(item.cast) if item.cast else None)

    def _embed(self, source: Source, request, path: tuple[str, ...], embed: Embed) -> EmbedNode:
        if source.table is None:
            raise errors.NO_RELATIONSHIP(parent=source.label, child=embed.relation)
        rel = resolve(self.schema, source.table, embed.relation, embed.hint)
        name = embed.alias or embed.relation
        # labelled as PostgREST aliases an embedded table (its errors name `cities_1.x`)
        child = Source(rel.target, rel.target.read_columns or rel.target.columns, f"{rel.target.name}_{len(path) + 1}")
        node = self.node(child, request, (*path, name), embed.select)
        # `users()` selects nothing: it filters (with !inner or `users=not.is.null`) and is left out of the output
        return EmbedNode(name, rel, node, embed.join == "inner", embed.spread, hidden=not embed.select)

    def _column(self, source: Source, name: str) -> Column:
        column = source.columns.get(name)
        if column is None:
            raise column_error(source.label, name)
        return column

    def _check_condition(self, source: Source, cond: Filter | LogicTree) -> None:
        if isinstance(cond, LogicTree):
            for child in cond.children:
                self._check_condition(source, child)
        else:
            self._column(source, cond.field.name)

    # -- reads ---------------------------------------------------------------------------------
    def read(self, request) -> ReadPlan:
        table = self.table(self.pick_schema(request.schema), request.target)
        source = Source(table, table.read_columns or table.columns, table.name)
        root = self.node(source, request, (), request.select)
        if self.max_rows is not None:
            root.limit = min(root.limit, self.max_rows) if root.limit is not None else self.max_rows
        self._check_embedded_filters(request, root)
        return ReadPlan(root, table)

    def _check_embedded_filters(self, request, root: Node) -> None:
        known: set[tuple[str, ...]] = {()}

        def walk(node: Node, path: tuple[str, ...]) -> None:
            for item in node.select:
                if isinstance(item, EmbedNode):
                    known.add((*path, item.name))
                    walk(item.node, (*path, item.name))

        walk(root, ())
        for mapping in (request.filters, request.orders, request.ranges):
            for path in mapping:
                if path not in known:
                    raise errors.NOT_EMBEDDED(path=".".join(path))

    # -- mutations -----------------------------------------------------------------------------
    def mutate(self, request, kind: str) -> MutatePlan:
        table = self.table(self.pick_schema(request.schema), request.target)
        if kind in ("insert", "upsert") and not table.insertable or kind == "update" and not table.updatable \
                or kind == "delete" and not table.deletable:
            raise (errors.VIEW_NOT_WRITABLE if table.is_view else errors.TABLE_NOT_WRITABLE)(kind=kind, name=table.name)
        source = Source(table, table.columns, table.name)
        root = self.node(source, request, (), request.select)
        self._check_embedded_filters(request, root)
        if kind in ("update", "delete") and (root.limit is not None or root.offset):
            _check_limited_order(root)
        columns: tuple[str, ...] = ()
        if kind != "delete":
            columns = self._payload_columns(table, request)
        on_conflict: tuple[str, ...] = ()
        prefs = request.preferences
        if request.method == "PUT":
            self._check_put(table, request)
        if kind == "upsert":
            on_conflict = tuple(request.on_conflict or table.primary_key)
            for name in on_conflict:
                self._column(source, name)
            if not on_conflict:
                raise errors.UPSERT_WITHOUT_KEY(table=table.name)
        return MutatePlan(kind, table, root, columns, on_conflict,
                          merge=getattr(prefs, "resolution", None) != "ignore-duplicates",
                          missing_default=getattr(prefs, "missing", None) == "default")

    @staticmethod
    def _check_put(table: Table, request) -> None:
        """PUT replaces one row named by `eq` filters on its whole primary key, which the body repeats."""
        pk = table.primary_key
        eqs = {c.field.name: c.value for c in request.filters.get((), ())
               if isinstance(c, Filter) and c.operator == "eq" and not c.negated and not c.field.json_path}
        payload = request.payload
        if not pk or set(eqs) != set(pk) or len(request.filters.get((), ())) != len(pk):
            raise errors.PUT_FILTERS()
        if not isinstance(payload, dict) or any(str(payload.get(c)) != eqs[c] for c in pk):
            raise errors.PUT_KEY_MISMATCH()

    def _payload_columns(self, table: Table, request) -> tuple[str, ...]:
        payload = request.payload
        if request.columns:
            names = tuple(request.columns)
        elif isinstance(payload, dict):
            names = tuple(payload)
        elif isinstance(payload, list):
            if not payload:
                names = ()
            else:
                if not all(isinstance(row, dict) for row in payload):
                    raise errors.INVALID_BODY(message="All object keys must match")
                first = tuple(payload[0])
                keyset = set(first)
                if any(set(row) != keyset for row in payload[1:]):
                    raise errors.INVALID_BODY(message="All object keys must match")
                names = first
        else:
            raise errors.INVALID_BODY(message="Empty or invalid json")
        for name in names:
            if name not in table.columns:
                raise errors.COLUMN_NOT_FOUND(table=table.name, column=name)
        return names

    # -- functions -----------------------------------------------------------------------------
    def call(self, request, fn: Function, args: dict[str, Any], raw: Any = NOT_RAW) -> CallPlan:
        """The plan of a call to fn (picked by routines.find) with named args, or the raw body."""
        if fn.returns_composite:
            if fn.returns_table is not None:
                table = self.schema.table(*fn.returns_table)
                columns = (table.read_columns or table.columns) if table else {}
            else:
                columns = {c.name: c for c in fn.out_columns}
            source = Source(self.schema.table(*fn.returns_table) if fn.returns_table else None, columns, fn.name)
            root = self.node(source, request, (), request.select)
            if fn.returns_set and self.max_rows is not None:
                root.limit = min(root.limit, self.max_rows) if root.limit is not None else self.max_rows
            self._check_embedded_filters(request, root)
            return CallPlan(fn, args, raw, root, False)
        offset, limit = request.ranges.get((), (0, None)) if fn.returns_set else (0, None)
        if fn.returns_set and self.max_rows is not None:
            limit = min(limit, self.max_rows) if limit is not None else self.max_rows
        return CallPlan(fn, args, raw, None, True, offset or 0, limit)


# -- what the request may ask of the plans ---------------------------------------------------------
MUTATIONS = ("insert", "update", "delete", "upsert")


def producible(req: ApiRequest, schema: Schema, accept: str) -> ApiRequest:
    """The request as the later stages see it: GeoJSON needs PostGIS; an EXPLAIN plan is asked with
    plans enabled (406 otherwise, as on Supabase by default) and is shaped as the request it explains."""
    if req.accept is MediaType.GEOJSON and schema.geojson is None:
        raise errors.MEDIA_TYPE(accept=accept.strip())
    if req.explain is None:
        return req
    if not schema.config.plan_enabled:
        raise errors.MEDIA_TYPE(accept=accept.strip())
    return replace(req, accept=req.explain.for_media)


def mutation_kind(req: ApiRequest) -> str:
    """insert, update, delete or upsert (a POST with `Prefer: resolution=...`); other methods are PGRST117."""
    kind = getattr(req.action, "value", req.action)
    if kind not in MUTATIONS:
        raise errors.UNSUPPORTED_METHOD(method=req.method)
    return "upsert" if kind == "insert" and req.preferences.resolution else str(kind)


def check_call(plan: CallPlan, req: ApiRequest, accept: str) -> None:
    """CSV and GeoJSON need rows with columns; `handling=strict` with `max-affected` needs a set (PGRST128)."""
    if (req.csv or req.accept is MediaType.GEOJSON) and plan.root is None:
        raise errors.MEDIA_TYPE(accept=accept.strip())
    prefs = req.preferences
    if prefs.handling == "strict" and prefs.max_affected is not None and not plan.function.returns_set:
        raise errors.RPC_MAX_AFFECTED()


def allowed_methods(req: ApiRequest, planner: Planner) -> list[str]:
    """OPTIONS: the methods a table, view or function takes, as PostgREST lists them in `Allow`."""
    from localbase.rest import routines
    if req.action is Action.INFO_ROOT:
        return ["OPTIONS", "GET", "HEAD"]
    if req.is_rpc:
        schema_name = planner.pick_schema(req.schema)
        overloads = planner.schema.function_overloads(schema_name, req.target)
        if not overloads:
            raise routines.not_found(planner.schema, schema_name, req.target, [], None, False, [])
        volatile = any(fn.volatility == "v" for fn in overloads)
        return ["OPTIONS", "POST"] if volatile else ["OPTIONS", "GET", "HEAD", "POST"]
    table = planner.table(planner.pick_schema(req.schema), req.target)
    return ["OPTIONS", "GET", "HEAD"] + ["POST"] * table.insertable \
        + ["PUT"] * (table.insertable and table.updatable and bool(table.primary_key)) \
        + ["PATCH"] * table.updatable + ["DELETE"] * table.deletable


def geojson(req: ApiRequest, schema: Schema) -> str | None:
    """PostGIS's ST_AsGeoJSON(record) when the client asked for GeoJSON."""
    return schema.geojson if req.accept is MediaType.GEOJSON else None


def _check_limited_order(root: Node) -> None:
    """A limited UPDATE/DELETE picks its rows by the table's own ordered columns (the parse stage
    already refused a limit without an order)."""
    if not root.order:
        raise errors.LIMIT_WITHOUT_ORDER()
    for term in root.order:
        if term.relation is not None:
            raise errors.RELATED_ORDER("A limited update or delete orders by the table's own columns",
                                       relation=term.relation)


def _last_key(field: Field) -> str:
    key = field.json_path[-1].key
    return str(key)


# Casts in select (`col::text`) name a type; we accept common SQL type names only, so no SQL
# can ride along, and render them as fixed text.
_CASTS = {
    "text": "text", "varchar": "varchar", "char": "char", "int": "integer", "integer": "integer",
    "int2": "smallint", "smallint": "smallint", "int4": "integer", "int8": "bigint", "bigint": "bigint",
    "numeric": "numeric", "decimal": "numeric", "real": "real", "float4": "real", "float8": "double precision",
    "double precision": "double precision", "float": "double precision", "bool": "boolean", "boolean": "boolean",
    "json": "json", "jsonb": "jsonb", "date": "date", "time": "time", "timetz": "timetz",
    "timestamp": "timestamp", "timestamptz": "timestamptz", "interval": "interval", "uuid": "uuid",
    "money": "money", "bytea": "bytea", "inet": "inet", "cidr": "cidr", "citext": "citext",
}


def _cast_type(name: str) -> str:
    key = name.strip().lower()
    array = key.endswith("[]")
    base = _CASTS.get(key[:-2] if array else key)
    if base is None:
        raise errors.QUERY_PARSE(hint="Use one of: " + ", ".join(sorted(_CASTS)),
                                 message=f"unsupported cast type \"{name}\"")
    return base + ("[]" if array else "")


def _presence_filters(filters: tuple, items: list, source: Source) -> tuple[tuple, dict[str, bool]]:
    """PostgREST's null filters on embedded resources: `cities=not.is.null` keeps the rows that have
    a related row (as `!inner` does), `cities=is.null` those that have none. Split them from the
    column filters; a column of the same name wins, as in PostgREST."""
    embeds = {item.name for item in items if isinstance(item, EmbedNode)}
    kept, presence = [], {}
    for f in filters:
        if isinstance(f, Filter) and f.field.name in embeds and f.field.name not in source.columns \
                and not f.field.json_path and f.operator == "is" and f.value in ("null", "not_null"):
            presence[f.field.name] = (f.value == "null") == f.negated
        else:
            kept.append(f)
    return tuple(kept), presence
