"""EXPLAIN plans (`Accept: application/vnd.pgrst.plan+json|text; for="..."; options=analyze|verbose|
settings|buffers|wal`), as PostgREST answers them when its db-plan-enabled is on (`[api]
db_plan_enabled`, or the connecting role's `pgrst.db_plan_enabled`); 406 otherwise.

The statement explained is the one the request would run, in the same transaction as the caller's
role with its claims (so RLS and grants apply, and `analyze` executes it as that role). Unlike
PostgREST, which commits an analyzed mutation unless `Prefer: tx=rollback`, the transaction always
rolls back: a request for a plan never changes data."""

from __future__ import annotations

import orjson
from starlette.responses import Response

from localbase.rest import execute
from localbase.rest.sql import Statement
from localbase.rest.types import Explain, MediaType

_FOR = {MediaType.OBJECT: "application/vnd.pgrst.object+json",
        MediaType.OBJECT_STRIPPED: "application/vnd.pgrst.object+json;nulls=stripped",
        MediaType.ARRAY_STRIPPED: "application/vnd.pgrst.array+json;nulls=stripped"}


def statement(st: Statement, spec: Explain) -> Statement:
    options = ", ".join(["format json" if spec.format == "json" else "format text", *spec.options])
    return Statement(f"explain ({options}) {st.sql}", st.args)


def media_type(spec: Explain) -> str:
    mime = f"application/vnd.pgrst.plan+{spec.format}; for=\"{_FOR.get(spec.for_media, spec.for_media.value)}\""
    if spec.options:
        mime += "; options=" + "|".join(spec.options)
    return mime + "; charset=utf-8"


async def respond(db, caller, ctx, st: Statement, spec: Explain, *, read_only: bool, role_settings) -> Response:
    rows = await execute.run_all(db, caller, ctx, statement(st, spec), read_only=read_only,
                                 role_settings=role_settings)
    if spec.format == "json":
        value = rows[0][0]
        body = (value if isinstance(value, str) else orjson.dumps(value).decode()) + "\n"
    else:
        body = "".join(f"{r[0]}\n" for r in rows)
    return Response(body.encode(), status_code=200, headers={"Content-Type": media_type(spec)})
