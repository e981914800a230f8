"""SQL stage, /rpc calls: a call plan -> one statement calling the function with its named arguments
(bound from the JSON object by json_to_record) or its raw body, then reading its result as a table's
rows (filters, select, embeds, page), a set of values, one value or nothing."""

from __future__ import annotations

from localbase.rest.plan import NOT_RAW, CallPlan
from localbase.rest.sql import T0, Builder, Statement, finish, ident, qualified_function


def call(plan: CallPlan, args_json: str, *, count: str | None, single: bool, strip_nulls: bool,
         head: bool, csv: bool = False, geojson: str | None = None) -> Statement:
    count = "exact" if count == "estimated" else count  # a function's rows are counted exactly
    fn = plan.function
    name = qualified_function((fn.schema, fn.name))
    given = [a for a in fn.args if a.name in plan.args]

    def invoke(b: Builder) -> tuple[str, str]:
        """(the call, a FROM prefix binding the arguments from the JSON object)."""
        if plan.raw is not NOT_RAW:  # the body, whole, is the one unnamed parameter
            kind = fn.args[0].type
            value = b.param(plan.raw, "bytea") if kind == "bytea" else f"{b.param(plan.raw)}::{kind}"
            return f"{name}({value})", ""
        if not given:
            return f"{name}()", ""
        defs = ", ".join(f"{ident(a.name)} {a.type}" for a in given)
        prefix = f'json_to_record({b.param(args_json)}::json) as "_args"({defs})'
        return f"{name}(" + ", ".join(f'{ident(a.name)} := "_args".{ident(a.name)}' for a in given) + ")", prefix

    def from_factory(b: Builder) -> str:
        invocation, prefix = invoke(b)
        return f"{prefix} cross join lateral {invocation} as {T0}" if prefix else f"{invocation} as {T0}"

    b = Builder()
    if plan.root is not None:
        query = b.node_query(plan.root, name, T0, from_sql=from_factory(b))
        # one composite value (not a set) answers an object, or null when filtered out, as PostgREST
        return finish(b, query, plan.root, name, from_factory, count=count,
                       single=single or not fn.returns_set, strip_nulls=strip_nulls, head=head, csv=csv,
                      geojson=geojson)
    invocation, prefix = invoke(b)
    from_clause = f" from {prefix}" if prefix else ""
    if fn.returns_void:
        sql = f'select null::bigint as total, 1::bigint as page_total, null as body from ' \
              f'(select {invocation}{from_clause}) as "_v"'
    elif fn.returns_set:
        agg = "null" if head else 'coalesce(json_agg("_s"."v"), \'[]\')::text'
        rows = f'select {invocation} as "v"{from_clause}'
        total = f'(select count(*) from ({rows}) as "_c")' if count == "exact" else "null::bigint"
        page = rows
        if plan.limit is not None:
            page += f" limit {b.param(plan.limit, 'bigint')}"
        if plan.offset:
            page += f" offset {b.param(plan.offset, 'bigint')}"
        sql = f'select {total} as total, count(*) as page_total, {agg} as body from ({page}) as "_s"'
    else:
        total = "1::bigint" if count == "exact" else "null::bigint"  # one value: a count of 1, as PostgREST
        sql = f'select {total} as total, 1::bigint as page_total, to_json({invocation})::text as body' \
              f'{from_clause}'
    return Statement(sql, b.args)
