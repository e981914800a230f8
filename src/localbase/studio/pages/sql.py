"""SQL editor: run a script as the database owner, the service role, anon or a chosen user (their
role and claims set by REST's execute stage), see the first rows, the time, errors with their
position; save snippets."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from localbase.studio import callers, runner
from localbase.studio.errors import StudioError
from localbase.studio.pages.common import form, services, text
from localbase.studio.render import navigate, page, templates
from localbase.studio.snippets import SnippetError, Snippets

ROW_LIMITS = (100, 500, 1000)
ROLE_LABELS = {"postgres": "postgres (database owner)", "service_role": "service_role",
               "anon": "anon", "user": "a user (authenticated)"}


def _snippets(request: Request) -> Snippets:
    return Snippets(request.app.state.settings.data_dir)


async def editor(request: Request) -> HTMLResponse:
    q = request.query_params
    script, name = q.get("q", ""), q.get("snippet", "")
    if name:
        try:
            script = _snippets(request).read(name)
        except SnippetError as exc:
            raise StudioError(404, str(exc)) from None
    return page(request, "sql.html", title="SQL editor", active="sql", script=script or "select now();",
                snippet=name, snippets=_snippets(request).names(), roles=ROLE_LABELS, limits=ROW_LIMITS,
                role=q.get("role", "postgres"), user=q.get("user", ""))


async def run(request: Request) -> HTMLResponse:
    svc = services(request)
    data = await form(request)
    user_text = text(data, "user")
    role = text(data, "role", "postgres")
    try:
        user_id = await callers.resolve_user(svc.db.auth_pool, user_text) if role == "user" and user_text else ""
        identity = callers.Identity.parse(role, user_id)
        caller = await callers.caller_for(identity, svc.settings, svc.db.auth_pool)
    except (ValueError, LookupError) as exc:
        return _result(request, error=str(exc))
    limit = int(text(data, "limit", "500")) if text(data, "limit", "500").isdigit() else 500
    schema = svc.schema
    outcome = await runner.run(svc.db, svc.owner, text(data, "sql"), caller,
                               ctx=runner.context(schema, svc.settings.extra_search_path),
                               role_settings=schema.role_settings, row_limit=min(max(limit, 1), max(ROW_LIMITS)),
                               rollback=bool(data.get("rollback")))
    if outcome.schema_changed:
        await _reload_schema(svc)
    return _result(request, outcome=outcome, identity=identity)


async def _reload_schema(svc) -> None:
    """After DDL (or any statement without rows), REST's schema cache reloads, as after migrations."""
    async with svc.owner.acquire() as conn:
        await conn.execute("notify pgrst, 'reload schema'")


def _result(request: Request, **context) -> HTMLResponse:
    return templates.TemplateResponse(request, "_sql_result.html", context)


async def save(request: Request) -> HTMLResponse:
    data = await form(request)
    name = text(data, "name").strip()
    try:
        _snippets(request).save(name, text(data, "sql"))
    except SnippetError as exc:
        raise StudioError(400, str(exc)) from None
    return navigate("/sql?snippet=" + quote(name))


async def delete(request: Request) -> HTMLResponse:
    try:
        _snippets(request).delete(request.path_params["name"])
    except SnippetError as exc:
        raise StudioError(400, str(exc)) from None
    return navigate("/sql")


def routes() -> list[Route]:
    return [Route("/sql", editor), Route("/sql/run", run, methods=["POST"]),
            Route("/sql/snippets", save, methods=["POST"]),
            Route("/sql/snippets/{name}/delete", delete, methods=["POST"])]
