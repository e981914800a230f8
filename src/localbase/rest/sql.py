"""SQL stage: a plan -> one parameterized statement.

Identifiers come only from the schema cache and are always quoted; every value the client sent is
a bind parameter (cast to the column's type in SQL); JSON bodies are built by PostgreSQL itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from localbase.rest import errors
from localbase.rest.operators import IS_VALUES, OPERATORS, Form
from localbase.rest.plan import STAR, EmbedNode, MutatePlan, Node, ReadPlan, SelectCol
from localbase.rest.schema_cache import Column, Table
from localbase.rest.sql_aggregate import GROUPED, Grouping, aggregated, output_names
from localbase.rest.types import Field, Filter, LogicTree

SOURCE = '"pgrst_source"'


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def qualified(table: Table) -> str:
    return f"{ident(table.schema)}.{ident(table.name)}"


def qualified_function(schema_and_name: tuple[str, str]) -> str:
    return f"{ident(schema_and_name[0])}.{ident(schema_and_name[1])}"



@dataclass
class Statement:
    sql: str
    args: list[Any]
    explain_sql: str | None = None  # for count=planned|estimated
    explain_args: list[Any] = field(default_factory=list)


@dataclass
class Builder:
    args: list[Any] = field(default_factory=list)
    n: int = 0
    embeds: dict[int, str] = field(default_factory=dict)  # id(EmbedNode) -> its join alias

    def param(self, value: Any, cast: str = "text") -> str:
        self.args.append(value)
        return f"${len(self.args)}::{cast}"

    def alias(self) -> str:
        self.n += 1
        return f'"t{self.n}"'

    # -- expressions ---------------------------------------------------------------------------
    def column(self, alias: str, f: Field, column: Column | None) -> tuple[str, str]:
        """SQL for a column (with its JSON path) and the type a compared value is cast to."""
        if column is not None and column.computed:  # a computed field: the function of the row
            sql = f"{qualified_function(column.computed)}({alias})"
        else:
            sql = f"{alias}.{ident(f.name)}"
        value_type = column.type if column is not None else "text"
        if f.json_path:
            if value_type == "json":
                sql += "::jsonb"
            for step in f.json_path:
                key = self.param(step.key, "int") if isinstance(step.key, int) else self.param(step.key)
                sql += ("->>" if step.as_text else "->") + key
            value_type = "text" if f.json_path[-1].as_text else "jsonb"
            sql = f"({sql})"
        return sql, value_type

    def condition(self, alias: str, columns: dict[str, Column], cond: Filter | LogicTree) -> str:
        if isinstance(cond, LogicTree):
            glue = f" {cond.operator} "
            inner = glue.join(self.condition(alias, columns, c) for c in cond.children) or "true"
            sql = f"({inner})"
        else:
            sql = self._filter(alias, columns, cond)
        return f"not {sql}" if cond.negated else sql

    def _filter(self, alias: str, columns: dict[str, Column], f: Filter) -> str:
        lhs, vtype = self.column(alias, f.field, columns.get(f.field.name))
        operator = OPERATORS[f.operator]
        value = f.value
        if operator.form is Form.IS:
            return f"({lhs} {IS_VALUES[str(value).lower()]})"
        if operator.form is Form.IN:
            listed = list(value) if isinstance(value, (tuple, list)) else [value]
            return f"({lhs} = any({self.param(listed, 'text[]')}::{vtype}[]))"
        if operator.form is Form.FULL_TEXT:
            lang = f"{self.param(f.language)}::regconfig, " if f.language else ""
            target = lhs if vtype == "tsvector" else f"to_tsvector({lang}{lhs})"
            return f"({target} @@ {operator.sql}({lang}{self.param(value)}))"
        sql_op = operator.sql
        cast = "text" if operator.text else vtype
        if f.quantifier:
            items = list(value) if isinstance(value, (tuple, list)) else None
            arr = self.param(items, "text[]") if items is not None else self.param(value) + "::text[]"
            return f"({lhs} {sql_op} {f.quantifier}({arr}::{cast}[]))"
        rhs = self.param(value) if cast == "text" else f"{self.param(value)}::{cast}"
        return f"({lhs} {sql_op} {rhs})"

    # -- select trees --------------------------------------------------------------------------
    def node_query(self, node: Node, source_sql: str, alias: str, *, links: list[str] | None = None,
                   filters: bool = True, paginate: bool = True, count_only: bool = False,
                   from_sql: str | None = None) -> str:
        if count_only and aggregated(node):  # the groups are the rows
            grouped = self.node_query(node, source_sql, alias, links=links, filters=filters, paginate=False,
                                      from_sql=from_sql)
            return f'select 1 from ({grouped}) as "c"'
        group = Grouping() if not count_only and aggregated(node) else None
        cols: list[str] = []
        joins: list[str] = []
        where: list[str] = list(links or [])
        presence = node.embed_presence or {}
        for item in node.select:
            if isinstance(item, EmbedNode):
                wanted = True if item.inner else presence.get(item.name)
                if count_only and wanted is None:
                    continue
                join, value, inner = self._embed(item, alias, node)
                joins.append(join)
                if value is not None and item.spread:
                    cols.append(value)
                    if group is not None:
                        group.key(output_names(item.node))
                elif value is not None:
                    cols.append(f"({value})::jsonb as {ident(item.name)}" if group is not None
                                else f"{value} as {ident(item.name)}")
                    if group is not None:
                        group.key([item.name])
                if wanted is not None:
                    where.append(inner if wanted else f"not ({inner})")
            elif count_only:
                continue
            elif group is not None and item.aggregate:
                value = None if item.column is None else self._value(alias, item)
                feed = group.aggregate(item, value)
                if feed is not None:
                    cols.append(feed)
            else:
                cols.append(self._select_col(alias, node, item))
                if group is not None:
                    group.key(output_names(Node(node.source, [item])))
        if filters:
            where.extend(self.condition(alias, node.source.columns, c) for c in node.filters)
        listing = "1" if count_only else ", ".join(cols) if cols else "null"
        sql = f"select {listing} from {from_sql or f'{source_sql} as {alias}'}"
        if joins:
            sql += " " + " ".join(joins)
        if where:
            sql += " where " + " and ".join(where)
        tail = ""
        if paginate and not count_only:
            tail = self._order(GROUPED if group is not None else alias, node)
            if node.limit is not None:
                tail += f" limit {self.param(node.limit, 'bigint')}"
            if node.offset:
                tail += f" offset {self.param(node.offset, 'bigint')}"
        return group.wrap(sql, tail) if group is not None else sql + tail

    def _value(self, alias: str, item: SelectCol) -> str:
        expr, _ = self.column(alias, item.field, item.column)
        return f"({expr})::{item.cast}" if item.cast else expr

    def _select_col(self, alias: str, node: Node, item: SelectCol) -> str:
        if item.field.name == STAR:
            return f"{alias}.*"
        return f"{self._value(alias, item)} as {ident(item.out)}"

    def _order(self, alias: str, node: Node) -> str:
        terms = []
        for term in node.order:
            if term.relation is not None:
                embed = next((e for e in node.select if isinstance(e, EmbedNode) and e.name == term.relation), None)
                if embed is None or not embed.rel.to_one:
                    raise errors.RELATED_ORDER("Only to-one embedded resources can be used for ordering",
                                               relation=term.relation)
                expr = f"({self._embed_alias(embed)}.\"v\"::jsonb->{self.param(term.field.name)})"
            else:
                expr, _ = self.column(alias, term.field, node.source.columns.get(term.field.name))
            sql = expr + (" desc" if term.descending else " asc" if term.descending is False else "")
            if term.nulls_first is not None:
                sql += " nulls first" if term.nulls_first else " nulls last"
            terms.append(sql)
        return " order by " + ", ".join(terms) if terms else ""

    def _embed_alias(self, embed: EmbedNode) -> str:
        """The embed's join alias, numbered in the order first met: the same read renders to the
        same SQL text every time (one prepared statement in PostgreSQL, one shape in the read cache)."""
        return self.embeds.setdefault(id(embed), f'"j{len(self.embeds) + 1}"')

    def _embed(self, embed: EmbedNode, parent_alias: str, parent: Node) -> tuple[str, str | None, str]:
        rel = embed.rel
        child = self.alias()
        join_alias = self._embed_alias(embed)
        links: list[str] = []
        source = qualified(rel.target)
        if rel.function is not None:  # a computed relationship: the function's rows for this parent row
            called = f"{qualified_function(rel.function)}({parent_alias}) as {child}"
            inner_sql = self.node_query(embed.node, source, child, from_sql=called)
        elif rel.junction is not None:
            jt = self.alias()
            to_parent, to_target = rel.fk, rel.junction_target_fk
            on = " and ".join(f"{jt}.{ident(c)} = {child}.{ident(r)}"
                              for c, r in zip(to_target.columns, to_target.ref_columns, strict=True))  # type: ignore[union-attr]
            links = [f"{jt}.{ident(c)} = {parent_alias}.{ident(r)}"
                     for c, r in zip(to_parent.columns, to_parent.ref_columns, strict=True)]
            from_sql = f"{qualified(rel.junction)} as {jt} join {source} as {child} on {on}"
            inner_sql = self.node_query(embed.node, source, child, links=links, from_sql=from_sql)
        else:
            if rel.outgoing:  # parent.fk_cols -> target.ref_cols
                links = [f"{child}.{ident(r)} = {parent_alias}.{ident(c)}"
                         for c, r in zip(rel.fk.columns, rel.fk.ref_columns, strict=True)]
            else:  # target.fk_cols -> parent.ref_cols
                links = [f"{child}.{ident(c)} = {parent_alias}.{ident(r)}"
                         for c, r in zip(rel.fk.columns, rel.fk.ref_columns, strict=True)]
            inner_sql = self.node_query(embed.node, source, child, links=links)
        if embed.hidden:
            return f'left join lateral (select 1 as "v" from ({inner_sql}) as "h" limit 1) as {join_alias} on true', \
                None, f'{join_alias}."v" is not null'
        if embed.spread and rel.to_one:
            return f"left join lateral ({inner_sql}) as {join_alias} on true", f"{join_alias}.*", \
                f"{join_alias} is not null"
        if embed.spread:  # to-many (PostgREST 13): each column becomes an array of the related rows' values
            names = output_names(embed.node)
            arrays = ", ".join(f'coalesce(json_agg("e".{ident(n)}), \'[]\')::jsonb as {ident(n)}' for n in names)
            present = f"jsonb_array_length({join_alias}.{ident(names[0])}) > 0" if names else "true"
            return f'left join lateral (select {arrays or "1"} from ({inner_sql}) as "e") as {join_alias} on true', \
                f"{join_alias}.*", present
        if rel.to_one:
            agg = f'select row_to_json("e") as "v" from ({inner_sql}) as "e"'
            inner = f'{join_alias}."v" is not null'
        else:
            agg = f'select coalesce(json_agg("e"), \'[]\') as "v" from ({inner_sql}) as "e"'
            inner = f'json_array_length({join_alias}."v") > 0'
        return f"left join lateral ({agg}) as {join_alias} on true", f'{join_alias}."v"', inner


def _csv_body(source: str = SOURCE) -> str:
    """text/csv as PostgREST writes it: a header of the column names, then a line per row, each the
    row's text form without its parentheses (values quoted as PostgreSQL quotes record fields)."""
    header = f"(select coalesce(string_agg(\"k\", ','), '') from json_object_keys(" \
             f"(select row_to_json(\"h\") from {source} as \"h\" limit 1)) as \"k\")"
    return f"{header} || chr(10) || coalesce(string_agg(substring({source}::text, 2, " \
           f"length({source}::text) - 2), chr(10)), '')"


def _body(single: bool, strip_nulls: bool, source: str = SOURCE, csv: bool = False,
          geojson: str | None = None) -> str:
    if csv:
        return _csv_body(source)
    if geojson:  # PostgREST's application/geo+json: the rows as features of one collection (PostGIS)
        return f"json_build_object('type', 'FeatureCollection', 'features', " \
               f"coalesce(json_agg({geojson}({source})::json), '[]'))::text"
    agg = f"json_agg({source})"
    if strip_nulls:
        agg = f"json_strip_nulls({agg})"
    if single:
        return f"coalesce(({agg}->0)::text, 'null')"
    return f"coalesce({agg}, '[]')::text"


T0 = '"t0"'
MUTATED = '"pgrst_mutated"'
FromFactory = Callable[[Builder], "str | None"]


def read(plan: ReadPlan, *, count: str | None, single: bool, strip_nulls: bool, head: bool,
         csv: bool = False, geojson: str | None = None) -> Statement:
    b = Builder()
    table_sql = qualified(plan.table)
    query = b.node_query(plan.root, table_sql, T0)
    return finish(b, query, plan.root, table_sql, lambda _b: None, count=count, single=single,
                  strip_nulls=strip_nulls, head=head, csv=csv, geojson=geojson)


def finish(b: Builder, query: str, root: Node, source_sql: str, from_factory: FromFactory, *,
           count: str | None, single: bool, strip_nulls: bool, head: bool, csv: bool = False,
           geojson: str | None = None) -> Statement:
    """Wrap a node query: total (count=exact), rows on this page, and the JSON body."""
    total = "null::bigint"
    if count == "exact":
        counted = b.node_query(root, source_sql, T0, paginate=False, count_only=True, from_sql=from_factory(b))
        total = f'(select count(*) from ({counted}) as "c")'
    body = "null" if head else _body(single, strip_nulls, csv=csv, geojson=geojson)
    sql = f"with {SOURCE} as ({query}) select {total} as total, count(*) as page_total, {body} as body " \
          f"from {SOURCE}"
    st = Statement(sql, b.args)
    if count in ("planned", "estimated"):
        eb = Builder()  # its own parameters: EXPLAIN must not carry parameters it does not use
        st.explain_sql = "explain (format json) " + eb.node_query(
            root, source_sql, T0, paginate=False, count_only=True, from_sql=from_factory(eb))
        st.explain_args = eb.args
    return st


def _insert(b: Builder, plan: MutatePlan, table: str, body_text: str) -> str:
    rows = body_text if body_text.lstrip().startswith("[") else f"[{body_text}]"
    if not plan.columns:
        # `{}` inserts one row of defaults; `[]` inserts nothing
        if rows.replace(" ", "") in ("[]", ""):
            return f"insert into {table} as {T0} select * from {table} where false"
        return f"insert into {table} as {T0} default values"
    cols = ", ".join(ident(c) for c in plan.columns)
    counted = plan.kind == "upsert" and plan.merge  # rows inserted, not updated: 201 or 200, as PostgREST
    if plan.missing_default:
        # each row's defaults are evaluated, given or not (as PostgREST does: a sequence advances for every row)
        values, defaults = [], []
        for k, name in enumerate(plan.columns):
            default = plan.table.columns[name].default  # the catalog's own default expression
            if default is None:
                values.append(f'"_r".{ident(name)}')
                continue
            defaults.append(f'{default} as "d{k}"')
            values.append(f'case when "_e".value ? {b.param(name)} then "_r".{ident(name)} else "_d"."d{k}" end')
        # (correlated with the row, so that PostgreSQL evaluates them per row, not once)
        with_defaults = f' cross join lateral (select {", ".join(defaults)} where "_e".value is not null) as "_d"' \
            if defaults else ""
        select = f'select {", ".join(values)} from jsonb_array_elements({b.param(rows)}::jsonb) as "_e" ' \
                 f'cross join lateral jsonb_populate_record(null::{table}, "_e".value) as "_r"{with_defaults}'
    else:
        select = f'select {cols} from json_populate_recordset(null::{table}, {b.param(rows)}::json) as "_r"'
    if counted:
        select += f" where {_count_inserted('+')} <> '0'"
    dml = f"insert into {table} as {T0} ({cols}) {select}"
    if plan.kind == "upsert" or plan.on_conflict:
        target = ", ".join(ident(c) for c in plan.on_conflict)
        if plan.merge:
            sets = ", ".join(f"{ident(c)} = excluded.{ident(c)}" for c in plan.columns)
            dml += f" on conflict ({target}) do update set {sets}"
            if counted:
                dml += f" where {_count_inserted('-')} <> '-1'"
        else:
            dml += f" on conflict ({target}) do nothing"
    return dml


def _count_inserted(sign: str) -> str:
    """Count a row in (+) or out (-) of the transaction's `pgrst.inserted` (PostgREST's way): +1 for each row
    an upsert offers, -1 for each it updates instead."""
    return f"set_config('pgrst.inserted', (coalesce({INSERTED}, 0) {sign} 1)::text, true)"


INSERTED = "nullif(current_setting('pgrst.inserted', true), '')::int"


LIMITED = '"pgrst_limited"'


def _mutation_where(b: Builder, plan: MutatePlan, table: str) -> str:
    """The rows an UPDATE/DELETE changes: its filters and, when limited (PostgREST 12's
    `limit`/`offset` with an explicit `order`), only the first rows in that order, matched back by
    the ordered columns. The filters apply outside too, so a non-unique order can never widen the
    change beyond them; that it changed more rows than the limit is refused before commit (PGRST110)."""
    root = plan.root
    columns = root.source.columns
    where = [b.condition(T0, columns, c) for c in root.filters]
    if root.limit is not None or root.offset:
        keys = list(dict.fromkeys(term.field.name for term in root.order))
        inner = [b.condition(LIMITED, columns, c) for c in root.filters]
        picked = f"select {', '.join(f'{LIMITED}.{ident(k)}' for k in keys)} from {table} as {LIMITED}"
        if inner:
            picked += " where " + " and ".join(inner)
        picked += b._order(LIMITED, root)
        if root.limit is not None:
            picked += f" limit {b.param(root.limit, 'bigint')}"
        if root.offset:
            picked += f" offset {b.param(root.offset, 'bigint')}"
        where.append(f"({', '.join(f'{T0}.{ident(k)}' for k in keys)}) in ({picked})")
    return " and ".join(where) or "true"


def mutate(plan: MutatePlan, body_text: str | None, *, single: bool, strip_nulls: bool,
           minimal: bool, csv: bool = False, geojson: str | None = None) -> Statement:
    b = Builder()
    table = qualified(plan.table)
    if plan.kind in ("insert", "upsert"):
        dml = _insert(b, plan, table, body_text or "[]")
    elif plan.kind == "update" and not plan.columns:
        # an empty object ({}, [] or [{}]) changes nothing: PostgREST answers it as a no-op
        first = ident(next(iter(plan.table.columns)))
        dml = f"update {table} as {T0} set {first} = {T0}.{first} where false"
    else:
        where = _mutation_where(b, plan, table)
        if plan.kind == "delete":
            dml = f"delete from {table} as {T0} where {where}"
        else:
            sets = ", ".join(f'{ident(c)} = "_r".{ident(c)}' for c in plan.columns)
            dml = f'update {table} as {T0} set {sets} from json_populate_record(null::{table}, ' \
                  f'{b.param(body_text)}::json) as "_r" where {where}'
    dml += f" returning {T0}.*"
    if minimal:
        sql = f"with {MUTATED} as ({dml}) select null::bigint as total, count(*) as page_total, null as body, " \
              f"{INSERTED} as inserted from {MUTATED}"
        return Statement(sql, b.args)
    query = b.node_query(plan.root, MUTATED, T0, filters=False, paginate=False)
    body = _body(single, strip_nulls, csv=csv, geojson=geojson)
    sql = f"with {MUTATED} as ({dml}), {SOURCE} as ({query}) select null::bigint as total, " \
          f"count(*) as page_total, {body} as body, {INSERTED} as inserted from {SOURCE}"
    return Statement(sql, b.args)
