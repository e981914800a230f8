"""API docs for one table or function, from REST's schema cache (what the API actually serves): its
columns and ready-to-paste supabase-py and supabase-js snippets (a pure stage)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

NUMBERS = ("smallint", "integer", "bigint", "numeric", "real", "double precision")


def sample(type_name: str) -> Any:
    """An example value of a column type, for the snippets."""
    t = type_name.lower()
    if t.endswith("[]"):
        return [sample(t[:-2])]
    if t in NUMBERS or t.startswith("numeric"):
        return 1
    if t == "boolean":
        return True
    if t in ("json", "jsonb"):
        return {"key": "value"}
    if t == "uuid":
        return "00000000-0000-0000-0000-000000000000"
    if t.startswith("timestamp"):
        return "2025-01-01T12:00:00Z"
    if t == "date":
        return "2025-01-01"
    return "text"


@dataclass(frozen=True)
class Snippet:
    title: str
    python: str
    js: str


def _py(value: Any) -> str:
    return repr(value)


def _js(value: Any) -> str:
    return json.dumps(value)


def _py_dict(row: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{_py(k)}: {_py(v)}" for k, v in row.items()) + "}"


def _js_obj(row: dict[str, Any]) -> str:
    return "{ " + ", ".join(f"{k if k.isidentifier() else _js(k)}: {_js(v)}" for k, v in row.items()) + " }"


def table_snippets(schema: str, name: str, columns: dict[str, str], primary_key: tuple[str, ...],
                   writable: bool) -> list[Snippet]:
    """`columns`: name -> type (the writable ones for inserts: not generated)."""
    py_from = (f"supabase.schema({_py(schema)})." if schema != "public" else "supabase.") + f"table({_py(name)})"
    js_from = (f"supabase.schema({_js(schema)})." if schema != "public" else "supabase.") + f"from({_js(name)})"
    key = primary_key[0] if primary_key else next(iter(columns), "id")
    key_value = sample(columns.get(key, "text"))
    some = [c for c in columns if c not in primary_key][:3] or list(columns)[:3]
    row = {c: sample(columns[c]) for c in some}
    out = [
        Snippet("Read rows", f"rows = {py_from}.select(\"*\").limit(10).execute().data",
                f"const {{ data, error }} = await {js_from}.select('*').limit(10)"),
        Snippet("Read some columns, filtered and ordered",
                f"rows = (\n    {py_from}\n    .select({_py(','.join(some) or '*')})\n"
                f"    .eq({_py(key)}, {_py(key_value)})\n    .order({_py(key)}, desc=True)\n    .execute()\n).data",
                f"const {{ data, error }} = await {js_from}\n  .select({_js(','.join(some) or '*')})\n"
                f"  .eq({_js(key)}, {_js(key_value)})\n  .order({_js(key)}, {{ ascending: false }})"),
        Snippet("Count rows", f"count = {py_from}.select(\"*\", count=\"exact\", head=True).execute().count",
                f"const {{ count, error }} = await {js_from}.select('*', {{ count: 'exact', head: true }})"),
    ]
    if writable:
        out += [
            Snippet("Insert a row", f"row = {py_from}.insert({_py_dict(row)}).execute().data",
                    f"const {{ data, error }} = await {js_from}.insert({_js_obj(row)}).select()"),
            Snippet("Update rows", f"rows = {py_from}.update({_py_dict(row)}).eq({_py(key)}, {_py(key_value)})"
                    ".execute().data",
                    f"const {{ data, error }} = await {js_from}.update({_js_obj(row)}).eq({_js(key)}, "
                    f"{_js(key_value)}).select()"),
            Snippet("Delete rows", f"{py_from}.delete().eq({_py(key)}, {_py(key_value)}).execute()",
                    f"const {{ error }} = await {js_from}.delete().eq({_js(key)}, {_js(key_value)})"),
        ]
    out.append(Snippet(
        "Listen to changes (the table must be in the supabase_realtime publication)",
        f"channel = supabase.channel(\"{name}-changes\")\n"
        f"channel.on_postgres_changes(\"*\", schema={_py(schema)}, table={_py(name)}, callback=print)\n"
        "await channel.subscribe()  # the async client (acreate_client)",
        f"supabase.channel('{name}-changes')\n"
        f"  .on('postgres_changes', {{ event: '*', schema: {_js(schema)}, table: {_js(name)} }}, (payload) => "
        "console.log(payload))\n  .subscribe()"))
    return out


def function_snippets(schema: str, name: str, args: dict[str, str], read_only: bool) -> list[Snippet]:
    params = {a: sample(t) for a, t in args.items()}
    py_client = f"supabase.schema({_py(schema)})" if schema != "public" else "supabase"
    js_client = f"supabase.schema({_js(schema)})" if schema != "public" else "supabase"
    get = ", get=True" if read_only else ""
    js_get = ", { get: true }" if read_only else ""
    return [Snippet("Call it", f"result = {py_client}.rpc({_py(name)}, {_py_dict(params)}{get}).execute().data",
                    f"const {{ data, error }} = await {js_client}.rpc({_js(name)}, {_js_obj(params)}{js_get})")]
