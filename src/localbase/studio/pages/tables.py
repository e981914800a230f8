"""Tables: schemas and tables (row counts, RLS, policies), and a table's grid - keyset pages,
sort, PostgREST filters, inline edit, insert, delete - through REST as the service role."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from localbase.studio import catalog, grid
from localbase.studio.errors import StudioError
from localbase.studio.pages.common import filter_value, form, services, text, typed
from localbase.studio.render import navigate, page, templates

PAGE_SIZES = (25, 50, 100, 500)
STRICT_ONE = "return=representation,handling=strict,max-affected=1"


async def index(request: Request) -> HTMLResponse:
    svc = services(request)
    async with svc.owner.acquire() as conn:
        infos = await catalog.tables(conn)
    exposed = list(svc.schema.exposed)
    by_schema: dict[str, list[catalog.TableInfo]] = {}
    for info in infos:
        by_schema.setdefault(info.schema, []).append(info)
    order = [s for s in exposed if s in by_schema] + sorted(s for s in by_schema if s not in exposed)
    chosen = request.query_params.get("schema") or (order[0] if order else "public")
    return page(request, "tables.html", title="Tables", active="tables", schemas=order, exposed=exposed,
                chosen=chosen, tables=by_schema.get(chosen, []))


def _table(request: Request):
    svc = services(request)
    schema, name = request.path_params["schema"], request.path_params["table"]
    table = svc.schema.table(schema, name)
    if table is None:
        if schema not in svc.schema.exposed:
            raise StudioError(404, f"schema {schema} is not exposed through the API ([api] schemas), so its rows "
                                   f"are not browsed here: read them in the SQL editor")
        raise StudioError(404, f"no table or view {schema}.{name} (a new one appears once the schema is reloaded)")
    return svc, table


def _query(request: Request, table) -> tuple[grid.GridQuery, dict[str, Any]]:
    q = request.query_params
    columns = list(table.columns)
    sort = q.get("sort") or (table.primary_key[0] if table.primary_key else "")
    if sort and sort not in table.columns:
        raise StudioError(400, f"no column {sort!r} to sort by")
    descending = q.get("desc") == "1"
    filters = []
    for column, op, value in zip(q.getlist("fc"), q.getlist("fo"), q.getlist("fv"), strict=False):
        if not column:
            continue
        if op not in grid.OPERATORS:
            raise StudioError(400, f"unknown filter operator {op!r}")
        filters.append((column, op, value))
    try:
        limit = int(q.get("limit") or 50)
    except ValueError:
        limit = 50
    limit = limit if limit in PAGE_SIZES else 50
    keyset = bool(table.primary_key)
    keys = [grid.Key(sort, descending, table.columns[sort].nullable)] if sort else []
    if keyset:
        keys += [grid.Key(c, nullable=False) for c in table.primary_key if c != sort]
    try:
        after = grid.decode_cursor(q.get("after")) if keyset else None
        before = grid.decode_cursor(q.get("before")) if keyset else None
    except ValueError as exc:
        raise StudioError(400, str(exc)) from None
    if (after and len(after) != len(keys)) or (before and len(before) != len(keys)):
        raise StudioError(400, "this page link is from another sort order; start from the first page")
    raw_offset = q.get("offset") or "0"
    offset = int(raw_offset) if not keyset and raw_offset.isdigit() else 0
    state = {"sort": sort, "desc": "1" if descending else "", "limit": limit, "filters": filters}
    return grid.GridQuery(columns, keys, filters, limit, after, before, offset), state


def _link(path: str, state: dict[str, Any], **changes: Any) -> str:
    merged = {**state, **changes}
    pairs: list[tuple[str, Any]] = [(k, merged[k]) for k in ("sort", "desc", "limit", "after", "before", "offset")
                                    if merged.get(k)]
    for column, op, value in merged["filters"]:
        pairs += [("fc", column), ("fo", op), ("fv", value)]
    return path + ("?" + urlencode(pairs) if pairs else "")


def _foreign_links(table, exposed: tuple[str, ...]) -> dict[str, tuple[str, str, str]]:
    """column -> (ref schema, ref table, ref column) for single-column foreign keys to exposed tables."""
    links = {}
    for fk in table.foreign_keys:
        if not fk.via_view and len(fk.columns) == 1 and fk.ref_schema in exposed:
            links[fk.columns[0]] = (fk.ref_schema, fk.ref_table, fk.ref_columns[0])
    return links


async def rows(request: Request) -> HTMLResponse:
    svc, table = _table(request)
    query, state = _query(request, table)
    found, content_range = await svc.rest("GET", table.schema, table.name, params=query.params(),
                                          prefer="count=estimated")
    more = len(found) > query.limit
    found = found[:query.limit]
    if query.before is not None:
        found.reverse()
    path = request.url.path
    keys = [k.column for k in query.keys]
    cursor = (lambda row: grid.encode_cursor([row.get(c) for c in keys])) if table.primary_key else None
    nav: dict[str, str] = {}
    if cursor and found:
        if (query.before is None and more) or query.before is not None:
            nav["next"] = _link(path, state, after=cursor(found[-1]))
        if query.after is not None or (query.before is not None and more):
            nav["prev"] = _link(path, state, before=cursor(found[0]))
    elif not table.primary_key:
        if more:
            nav["next"] = _link(path, state, offset=query.offset + query.limit)
        if query.offset:
            nav["prev"] = _link(path, state, offset=max(0, query.offset - query.limit))
    if query.after is not None or query.before is not None or query.offset:
        nav["first"] = _link(path, state)
    total = content_range.rsplit("/", 1)[-1] if content_range else "*"
    sort_links = {c: _link(path, {**state, "sort": c, "desc": "1" if state["sort"] == c and not state["desc"]
                                  else ""}) for c in table.columns}
    return page(request, "grid.html", title=f"{table.schema}.{table.name}", active="tables", table=table,
                rows=found, nav=nav, total=total, state=state, sort_links=sort_links, operators=grid.OPERATORS,
                fks=_foreign_links(table, svc.schema.exposed), editable=bool(table.primary_key) and table.updatable,
                deletable=bool(table.primary_key) and table.deletable, page_sizes=PAGE_SIZES,
                base=f"/tables/{table.schema}/{table.name}", here=str(request.url.path) + (
                    "?" + request.url.query if request.url.query else ""))


def _key_filters(table, raw: str) -> list[tuple[str, str]]:
    try:
        key = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise StudioError(400, "the row's key is damaged; reload the page") from None
    if not isinstance(key, dict) or sorted(key) != sorted(table.primary_key):
        raise StudioError(400, "the row's key does not match the table's primary key; reload the page")
    return [(c, "eq." + filter_value(v)) if v is not None else (c, "is.null") for c, v in key.items()]


async def edit(request: Request) -> HTMLResponse:
    svc, table = _table(request)
    data = await form(request)
    column = text(data, "column")
    if column not in table.columns:
        raise StudioError(400, f"no column {column!r}")
    value = None if data.get("null") else typed(text(data, "value"), table.columns[column].type)
    changed, _ = await svc.rest("PATCH", table.schema, table.name, params=_key_filters(table, text(data, "key")),
                                json={column: value}, prefer=STRICT_ONE)
    if not changed:
        raise StudioError(404, "the row is gone (deleted, or its key changed); reload the page")
    return templates.TemplateResponse(request, "_row.html", {
        "table": table, "row": changed[0], "fks": _foreign_links(table, svc.schema.exposed), "editable": True,
        "deletable": table.deletable, "base": f"/tables/{table.schema}/{table.name}"})


async def insert(request: Request) -> HTMLResponse:
    svc, table = _table(request)
    data = await form(request)
    row = {}
    for name, column in table.columns.items():
        raw = text(data, "col:" + name)
        if raw != "" and not column.generated:
            row[name] = typed(raw, column.type)
    await svc.rest("POST", table.schema, table.name, json=row, prefer="return=minimal")
    return navigate(text(data, "back") or f"/tables/{table.schema}/{table.name}")


async def delete(request: Request) -> HTMLResponse:
    svc, table = _table(request)
    data = await form(request)
    await svc.rest("DELETE", table.schema, table.name, params=_key_filters(table, text(data, "key")),
                   prefer="handling=strict,max-affected=1")
    return HTMLResponse("")


def routes() -> list[Route]:
    return [Route("/tables", index), Route("/tables/{schema}/{table}", rows),
            Route("/tables/{schema}/{table}/edit", edit, methods=["POST"]),
            Route("/tables/{schema}/{table}/insert", insert, methods=["POST"]),
            Route("/tables/{schema}/{table}/delete", delete, methods=["POST"])]
