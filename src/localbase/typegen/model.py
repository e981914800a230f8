"""What type generation needs from the database: the schema cache's tables, views and functions,
plus enum labels, mapped to a language-neutral description of each column's type."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from localbase.rest.schema_cache import Schema, introspect

ENUMS_SQL = """
select n.nspname as schema, t.typname as name, array_agg(e.enumlabel order by e.enumsortorder) as labels
from pg_type t join pg_enum e on e.enumtypid = t.oid join pg_namespace n on n.oid = t.typnamespace
where n.nspname = any($1::text[])
group by n.nspname, t.typname
"""

NUMBER = {"smallint", "integer", "bigint", "real", "double precision", "numeric", "oid"}
BOOLEAN = {"boolean"}
JSON = {"json", "jsonb"}


@dataclass(frozen=True)
class Model:
    schema: Schema
    enums: dict[tuple[str, str], list[str]]


async def load(dsn: str, schemas: tuple[str, ...]) -> Model:
    conn = await asyncpg.connect(dsn)
    try:
        schema = await introspect(conn, schemas)
        rows = await conn.fetch(ENUMS_SQL, list(schemas))
    finally:
        await conn.close()
    return Model(schema, {(r["schema"], r["name"]): list(r["labels"]) for r in rows})


def kind_of(pg_type: str, enums: dict[tuple[str, str], list[str]]) -> tuple[str, list[str]]:
    """('number'|'boolean'|'json'|'string'|'enum'|'array', an enum's labels) for a format_type() name
    (an array's element type is the name without its `[]`)."""
    if pg_type.endswith("[]"):
        return "array", []
    base = pg_type.split("(")[0].strip()
    if base in NUMBER:
        return "number", []
    if base in BOOLEAN:
        return "boolean", []
    if base in JSON:
        return "json", []
    name = base.split(".")[-1].strip('"')
    for (_, enum_name), labels in enums.items():
        if enum_name == name:
            return "enum", labels
    return "string", []
