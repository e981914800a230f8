"""/rest/v1: the pipeline parse -> plan -> sql -> execute -> respond, per request. The handler only
wires the stages; each stage's work lives in its module."""

from __future__ import annotations

import logging

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from localbase.rest import (
    errors,
    execute,
    explain,
    openapi,
    plan,
    read_cache,
    replica_reads,
    request_headers,
    respond,
    routines,
    sql,
    sql_call,
)
from localbase.rest.errors import RestError
from localbase.rest.parse import parse_request, query_pairs
from localbase.rest.plan import Planner
from localbase.rest.read_cache import PreparedRead, ReadCache
from localbase.rest.sql import Statement
from localbase.rest.types import Action, ApiRequest, MediaType

log = logging.getLogger("localbase.rest")
RPC_PREFIX = "rpc/"


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


async def handle(request: Request) -> Response:
    try:
        return await _handle(request)
    except RestError as err:
        return respond.error_response(err)
    except Exception:  # noqa: BLE001 - logged with the traceback, answered as PostgREST's 500 shape
        log.exception("unexpected error in %s %s", request.method, request.url.path)
        return respond.error_response(errors.INTERNAL())


async def _handle(request: Request) -> Response:
    scope = request.scope
    app = scope["app"]
    # the app's state as its dict: Starlette's State answers an attribute only after the ordinary
    # lookup has failed (an exception caught per attribute, six per read)
    state = app.state._state
    settings = state["settings"]
    cache = state["schema_cache"]
    schema = cache.schema
    path = scope.get("path_params", {}).get("path", "")
    method = scope["method"]
    if not path.strip("/") and method in ("GET", "HEAD"):
        schema_name = Planner(schema, schema.config.max_rows).pick_schema(request.headers.get("accept-profile"))
        doc = openapi.document(schema, schema_name, settings.api_url)
        return Response(orjson.dumps(doc), media_type="application/openapi+json; charset=utf-8")
    # the headers once: `first` for the lookups below, as Starlette's Headers.get answers them, and
    # the request.headers setting for PostgreSQL (rest/request_headers.py)
    first, headers_json = request_headers.decoded(scope["headers"])
    caller = execute.caller_from(first.get("authorization"), settings.keyring)
    profile = first.get("accept-profile" if method in ("GET", "HEAD") else "content-profile")
    ctx = execute.Context(method, "/" + path, headers_json,
        execute.search_path(profile if profile in schema.exposed else schema.exposed[0], settings.extra_search_path),
        schema.config.pre_request)
    db = state["db"]
    accept = first.get("accept", "")
    query = scope.get("query_string", b"")
    if method in ("GET", "HEAD") and not path.startswith(RPC_PREFIX):
        reads: ReadCache = state["rest_reads"]
        pairs = query_pairs(query)
        # a read of a known shape (a read by id: every one after the first); else one read before
        found = reads.shaped(cache.version, method, path, pairs, first)
        if found is not None:
            prepared, statement = found
        else:
            key = reads.key(cache.version, method, path, query, first)
            known = reads.get(key)
            if known is not None:
                prepared = known
            else:
                planner = Planner(schema, schema.config.max_rows)

                def prepare(pairs: list[tuple[str, str]]) -> tuple[ApiRequest, PreparedRead]:
                    req = plan.producible(parse_request(method, path, pairs, request.headers, b""), schema, accept)
                    return req, read_cache.prepare(req, planner, head=method == "HEAD")

                req, prepared = prepare(pairs)
                if req.explain is not None:
                    return await explain.respond(db, caller, ctx, prepared.statement, req.explain, read_only=True,
                                                 role_settings=schema.role_settings)
                shape = reads.shape(cache.version, method, path, pairs, first)
                if shape is not None:
                    reads.learn(shape, prepared, lambda marked: prepare(marked)[1])
                reads.put(key, prepared)
            statement = prepared.statement
        router = state["reads"]
        if router is None:  # (no read replicas: replica_reads.read would run it on `db`)
            return await _read(db, caller, ctx, prepared, statement, schema.role_settings, schema.config.max_rows,
                               head=method == "HEAD")
        return await replica_reads.read(
            router, db, caller, request, cache.version,
            lambda target: _read(target, caller, ctx, prepared, statement, schema.role_settings,
                                 schema.config.max_rows, head=method == "HEAD"))
    planner = Planner(schema, schema.config.max_rows)
    body = await _read_body(request)
    req = plan.producible(parse_request(method, path, query_pairs(query), request.headers, body), schema, accept)
    if req.action in (Action.INFO, Action.INFO_ROOT):
        return respond.allow_response(plan.allowed_methods(req, planner))
    if req.is_rpc:
        return await _call(request, req, planner, caller, ctx, body, accept)
    action = getattr(req.action, "value", req.action)
    kind = plan.mutation_kind(req)
    prefs = req.preferences
    mutation = planner.mutate(req, kind)
    minimal = prefs.returning != "representation"
    body_text = body.decode() if body and kind != "delete" else None  # (the parse stage checked it is UTF-8)
    st = sql.mutate(mutation, body_text, single=req.single, strip_nulls=req.strip_nulls, minimal=minimal,
                    csv=req.csv, geojson=plan.geojson(req, schema))
    if req.explain is not None:
        return await explain.respond(db, caller, ctx, st, req.explain, read_only=False,
                                     role_settings=schema.role_settings)
    row, _ = await execute.run(db, caller, ctx, st, read_only=False, rollback=schema.config.tx_rollback(prefs.tx),
                               role_settings=schema.role_settings,
                               check=respond.row_checks(req.single, prefs, max_affected=kind in ("update", "delete"),
                                                        changed_limit=mutation.root.limit
                                                        if kind in ("update", "delete") else None))
    return respond.mutation_response(kind, row["body"], page_total=row["page_total"], minimal=minimal,
                                     single=req.single, count_exact=prefs.count == "exact",
                                     preference_applied=respond.preference_applied(prefs, action), csv=req.csv,
                                     inserted=row["inserted"], put=method == "PUT",
                                     geojson=req.accept is MediaType.GEOJSON)


async def _read(db, caller, ctx, prepared: PreparedRead, statement: Statement, role_settings,
                max_rows: int | None, *, head: bool) -> Response:
    """The read `prepared` describes, running `statement` (a shape's template's `prepared.statement`
    has markers for values: read_cache._Template.read)."""
    row, planned = await execute.read(db, caller, ctx, statement, rollback=prepared.rollback,
                                      role_settings=role_settings, check=respond.one_row if prepared.single else None)
    total = row["total"] if prepared.count == "exact" else planned
    if prepared.exact is not None and planned is not None and (max_rows is None or planned < max_rows):
        # count=estimated: the planner's guess for large results, the exact count below max-rows
        erow, _ = await execute.run(db, caller, ctx, prepared.exact, read_only=True, role_settings=role_settings)
        total = erow["total"]
    return respond.read_response(row["body"], offset=prepared.offset, page_total=row["page_total"], total=total,
                                 head=head, single=prepared.single, preference_applied=list(prepared.applied),
                                 csv=prepared.csv, geojson=prepared.geojson)


async def _call(request: Request, req, planner: Planner, caller, ctx, body: bytes, accept: str) -> Response:
    schema = planner.schema
    call = routines.resolve(schema, planner.pick_schema(req.schema), req, body)
    req = call.request
    call_plan = planner.call(req, call.function, call.args, call.raw)
    plan.check_call(call_plan, req, accept)
    prefs = req.preferences
    head = req.method == "HEAD"
    # a JSON body of named arguments goes to PostgreSQL as sent (the parse stage checked it):
    # re-encoding it would fail on nesting deeper than orjson writes, which PostgreSQL's json reads
    args_json = body.decode() if call.args and req.method == "POST" and req.content_type is MediaType.JSON \
        else orjson.dumps(call.args).decode()
    st = sql_call.call(call_plan, args_json, count=prefs.count, single=req.single, strip_nulls=req.strip_nulls,
                       head=head, csv=req.csv, geojson=plan.geojson(req, schema))
    app = request.app
    db = app.state.db
    if req.explain is not None:
        return await explain.respond(db, caller, ctx, st, req.explain, read_only=call.read_only,
                                     role_settings=schema.role_settings)

    def run(target):
        return execute.run(target, caller, ctx, st, read_only=call.read_only,
                           rollback=schema.config.tx_rollback(prefs.tx), role_settings=schema.role_settings,
                           check=respond.row_checks(req.single, prefs))
    if req.method in ("GET", "HEAD") and call.read_only:  # a replica may answer
        row, planned = await replica_reads.read(app.state.reads, db, caller, request,
                                                app.state.schema_cache.version, run)
    else:
        row, planned = await run(db)
    return respond.call_response(row, planned, call_plan, count=prefs.count, head=head, single=req.single,
                                 csv=req.csv, geojson=req.accept is MediaType.GEOJSON,
                                 preference_applied=respond.preference_applied(prefs))


def routes() -> list[Route]:
    return [Route("/{path:path}", handle, methods=["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"])]
