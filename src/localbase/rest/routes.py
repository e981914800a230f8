"""/rest/v1: the pipeline parse -> plan -> sql -> execute -> respond, per request."""

from __future__ import annotations

import functools
import logging
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from localbase.rest import errors, execute, explain, openapi, replica_reads, respond, routines, sql, sql_call
from localbase.rest.errors import RestError
from localbase.rest.parse import parse_request
from localbase.rest.plan import Planner
from localbase.rest.read_cache import PreparedRead, ReadCache
from localbase.rest.types import Action, ApiRequest, MediaType

log = logging.getLogger("localbase.rest")
RPC_PREFIX = "rpc/"


def _value(x):
    return getattr(x, "value", x)


async def _read_body(request: Request) -> bytes:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return b""
    limit = request.app.state.settings.limits.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise errors.PAYLOAD_TOO_LARGE(f"The body exceeds {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise errors.PAYLOAD_TOO_LARGE(f"The body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse_unproduced(req, request: Request, schema) -> ApiRequest:
    """The request as the later stages see it: a plan request shaped as the one it explains (EXPLAIN
    plans answer 406 unless enabled, as on Supabase by default; GeoJSON needs PostGIS)."""
    if req.accept is MediaType.GEOJSON and schema.geojson is None:
        raise errors.MEDIA_TYPE(accept=request.headers.get("accept", "").strip())
    return explain.prepare(req, schema.config.plan_enabled, request.headers.get("accept", ""))


def _checks(single: bool, prefs, *, max_affected: bool = True, changed_limit: int | None = None):
    """What must hold of the statement's row before its transaction commits (raising rolls it back):
    one row for a single object; with `handling=strict`, at most `max-affected` rows (PostgREST 13:
    PATCH, DELETE and functions returning a set); a limited PATCH/DELETE changed at most `limit` rows
    (PostgREST 12)."""
    limit = prefs.max_affected if max_affected and prefs.handling == "strict" else None
    if not single and limit is None and changed_limit is None:
        return None

    def check(row) -> None:
        if single:
            respond.single_check(row["page_total"])
        if limit is not None and row["page_total"] > limit:
            raise errors.MAX_AFFECTED(f"The query affects {row['page_total']} rows")
    return check


def _query_pairs(raw: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise errors.QUERY_PARSE(message="Invalid query string: not valid UTF-8 after percent-decoding") from None


async def handle(request: Request) -> Response:
    try:
        return await _handle(request)
    except RestError as err:
        return respond.error_response(err)
    except Exception:  # noqa: BLE001 - logged with the traceback, answered as PostgREST's 500 shape
        log.exception("unexpected error in %s %s", request.method, request.url.path)
        return respond.error_response(errors.INTERNAL())


async def _handle(request: Request) -> Response:
    app = request.app
    settings = app.state.settings
    cache = app.state.schema_cache
    path = request.path_params.get("path", "")
    if not path.strip("/") and request.method in ("GET", "HEAD"):
        planner = Planner(cache.schema, cache.schema.config.max_rows)
        schema_name = planner.pick_schema(request.headers.get("accept-profile"))
        doc = openapi.document(cache.schema, schema_name, settings.api_url)
        return Response(orjson.dumps(doc), media_type="application/openapi+json; charset=utf-8")
    schema = cache.schema
    caller = execute.caller_from(request.headers.get("authorization"), settings.keyring)
    profile = request.headers.get("accept-profile" if request.method in ("GET", "HEAD") else "content-profile")
    ctx = execute.Context(request.method, "/" + path, orjson.dumps(
        {k.decode("latin-1"): v.decode("latin-1") for k, v in request.scope["headers"]}).decode(),
        _search_path(profile if profile in schema.exposed else schema.exposed[0], settings.extra_search_path),
        schema.config.pre_request)
    db = app.state.db
    query = request.scope.get("query_string", b"")
    if request.method in ("GET", "HEAD") and not path.startswith(RPC_PREFIX):
        reads: ReadCache = app.state.rest_reads
        key = reads.key(cache.version, request.method, path, query, request.headers)
        prepared = reads.get(key)
        if prepared is None:
            req = parse_request(request.method, path, _query_pairs(query), request.headers, b"")
            req = _refuse_unproduced(req, request, schema)
            prepared = _prepare_read(req, Planner(schema, schema.config.max_rows), schema.config.max_rows,
                                     head=request.method == "HEAD")
            if req.explain is not None:
                return await explain.respond(db, caller, ctx, prepared.statement, req.explain, read_only=True,
                                             role_settings=schema.role_settings)
            reads.put(key, prepared)
        return await replica_reads.read(
            app.state.reads, db, caller, request, cache.version,
            lambda target: _read(target, caller, ctx, prepared, schema.role_settings, schema.config.max_rows,
                                 head=request.method == "HEAD"))
    body = await _read_body(request)
    req = parse_request(request.method, path, _query_pairs(query), request.headers, body)
    req = _refuse_unproduced(req, request, schema)
    planner = Planner(schema, schema.config.max_rows)
    action = _value(req.action)
    prefs = req.preferences
    count = prefs.count
    single = req.single
    strip_nulls = req.strip_nulls
    head = request.method == "HEAD"
    applied: list[str] = []
    if count:
        applied.append(f"count={count}")
    rollback = schema.config.tx_rollback(prefs.tx)
    if req.action in (Action.INFO, Action.INFO_ROOT):
        return _info(req, planner)
    if req.is_rpc:
        return await _call(request, req, planner, caller, ctx, count=count, single=single,
                           strip_nulls=strip_nulls, head=head, applied=applied, rollback=rollback, body=body)
    kind = {"insert": "insert", "update": "update", "delete": "delete", "upsert": "upsert"}.get(action)
    if kind is None:
        raise errors.UNSUPPORTED_METHOD(method=request.method)
    resolution = prefs.resolution
    if kind == "insert" and resolution:
        kind = "upsert"
        applied.append(f"resolution={resolution}")
    if prefs.missing == "default":
        applied.append("missing=default")
    plan = planner.mutate(req, kind)
    returning = prefs.returning
    minimal = returning != "representation"
    if returning:
        applied.insert(0, f"return={returning}")
    body_text = body.decode() if body and kind != "delete" else None  # (the parse stage checked it is UTF-8)
    st = sql.mutate(plan, body_text, single=single, strip_nulls=strip_nulls, minimal=minimal, csv=req.csv,
                    geojson=_geojson(req, schema))
    if req.explain is not None:
        return await explain.respond(db, caller, ctx, st, req.explain, read_only=False,
                                     role_settings=schema.role_settings)
    row, _ = await execute.run(db, caller, ctx, st, read_only=False, rollback=rollback,
                               role_settings=schema.role_settings,
                               check=_checks(single, prefs, max_affected=kind in ("update", "delete"),
                                             changed_limit=plan.root.limit if kind in ("update", "delete")
                                             else None))
    return respond.mutation_response(kind, row["body"], page_total=row["page_total"], minimal=minimal,
                                     single=single, count_exact=count == "exact", preference_applied=applied,
                                     csv=req.csv, inserted=row["inserted"], put=request.method == "PUT",
                                     geojson=req.accept is MediaType.GEOJSON)


@functools.lru_cache(maxsize=64)
def _search_path(schema_name: str, extra: tuple[str, ...]) -> str:
    """The request's search_path, as PostgREST sets it: its schema, then the extra ones."""
    return ", ".join(sql.ident(name) for name in (schema_name, *extra))


def _geojson(req, schema) -> str | None:
    """PostGIS's ST_AsGeoJSON(record) when the client asked for GeoJSON."""
    return schema.geojson if req.accept is MediaType.GEOJSON else None


def _info(req, planner: Planner) -> Response:
    """OPTIONS: the methods a table, view or function takes, in `Allow`, as PostgREST answers."""
    if req.action is Action.INFO_ROOT:
        allowed = ["OPTIONS", "GET", "HEAD"]
    elif req.is_rpc:
        schema_name = planner.pick_schema(req.schema)
        overloads = planner.schema.function_overloads(schema_name, req.target)
        if not overloads:
            raise routines.not_found(planner.schema, schema_name, req.target, [], None, False, [])
        volatile = any(fn.volatility == "v" for fn in overloads)
        allowed = ["OPTIONS", "POST"] if volatile else ["OPTIONS", "GET", "HEAD", "POST"]
    else:
        table = planner.table(planner.pick_schema(req.schema), req.target)
        allowed = ["OPTIONS", "GET", "HEAD"] + ["POST"] * table.insertable \
            + ["PUT"] * (table.insertable and table.updatable and bool(table.primary_key)) \
            + ["PATCH"] * table.updatable + ["DELETE"] * table.deletable
    return Response(b"", status_code=200, headers={"Allow": ",".join(allowed), "Access-Control-Allow-Origin": "*"})


def _prepare_read(req, planner: Planner, max_rows: int | None, *, head: bool) -> PreparedRead:
    plan = planner.read(req)
    count = req.preferences.count
    opts = {"single": req.single, "strip_nulls": req.strip_nulls, "head": head, "csv": req.csv,
            "geojson": _geojson(req, planner.schema)}
    statement = sql.read(plan, count="planned" if count == "estimated" else count, **opts)
    exact = sql.read(plan, count="exact", **{**opts, "head": True}) if count == "estimated" else None
    rollback = planner.schema.config.tx_rollback(req.preferences.tx)
    return PreparedRead(statement, exact, plan.root.offset, req.single, count, rollback,
                        (f"count={count}",) if count else (), req.csv, req.accept is MediaType.GEOJSON)


async def _read(db, caller, ctx, prepared: PreparedRead, role_settings, max_rows: int | None, *,
                head: bool) -> Response:
    check = (lambda r: respond.single_check(r["page_total"])) if prepared.single else None
    row, planned = await execute.run(db, caller, ctx, prepared.statement, read_only=True,
                                     rollback=prepared.rollback, role_settings=role_settings, check=check)
    total = row["total"] if prepared.count == "exact" else planned
    if prepared.exact is not None and planned is not None and (max_rows is None or planned < max_rows):
        # count=estimated: the planner's guess for large results, the exact count below max-rows
        erow, _ = await execute.run(db, caller, ctx, prepared.exact, read_only=True, role_settings=role_settings)
        total = erow["total"]
    return respond.read_response(row["body"], offset=prepared.offset, page_total=row["page_total"], total=total,
                                 head=head, single=prepared.single, preference_applied=list(prepared.applied),
                                 csv=prepared.csv, geojson=prepared.geojson)


async def _call(request: Request, req, planner: Planner, caller, ctx, *, count, single, strip_nulls, head,
                applied, rollback, body: bytes) -> Response:
    schema = planner.schema
    call = routines.resolve(schema, planner.pick_schema(req.schema), req, body)
    req = call.request
    plan = planner.call(req, call.function, call.args, call.raw)
    geo = req.accept is MediaType.GEOJSON
    if (req.csv or geo) and plan.root is None:  # CSV, GeoJSON need rows with columns: a function returning rows
        raise errors.MEDIA_TYPE(accept=request.headers.get("accept", "").strip())
    if req.preferences.handling == "strict" and req.preferences.max_affected is not None \
            and not plan.function.returns_set:
        raise errors.RPC_MAX_AFFECTED()
    st = sql_call.call(plan, orjson.dumps(call.args).decode(), count=count if count != "estimated" else "exact",
                  single=single, strip_nulls=strip_nulls, head=head, csv=req.csv, geojson=_geojson(req, schema))
    app = request.app
    db = app.state.db
    if req.explain is not None:
        return await explain.respond(db, caller, ctx, st, req.explain, read_only=call.read_only,
                                     role_settings=schema.role_settings)

    def run(target):
        return execute.run(target, caller, ctx, st, read_only=call.read_only, rollback=rollback,
                           role_settings=schema.role_settings, check=_checks(single, req.preferences))
    if request.method in ("GET", "HEAD") and call.read_only:  # a replica may answer
        row, planned = await replica_reads.read(app.state.reads, db, caller, request,
                                                app.state.schema_cache.version, run)
    else:
        row, planned = await run(db)
    if plan.function.returns_void:
        return Response(b"", status_code=204)
    total = row["total"] if count in ("exact", "estimated") else None
    if plan.root is None and plan.function.returns_set and not single:
        return respond.read_response(row["body"], offset=plan.offset, page_total=row["page_total"], total=total,
                                     head=head, single=False, preference_applied=applied)
    if plan.root is None:
        return respond.read_response(row["body"] or "null", offset=0, page_total=1, total=total, head=head,
                                     single=False, preference_applied=applied)
    total = total if total is not None else planned
    return respond.read_response(row["body"], offset=plan.root.offset, page_total=row["page_total"], total=total,
                                 head=head, single=single, preference_applied=applied, csv=req.csv, geojson=geo)


def routes() -> list[Route]:
    return [Route("/{path:path}", handle, methods=["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"])]
