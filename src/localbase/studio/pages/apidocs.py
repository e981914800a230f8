"""API docs: the project's URL and keys (each shown only on an explicit "reveal"), and per exposed
table or function its columns and supabase-py / supabase-js snippets."""

from __future__ import annotations

from markupsafe import escape
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from localbase.studio import apidocs, catalog
from localbase.studio.errors import StudioError
from localbase.studio.pages.common import services
from localbase.studio.render import page

KEYS = {"publishable": ("publishable key", "publishable_key", "public (the anon role): safe in a browser or app, "
                         "with RLS on"),
        "secret": ("secret key", "secret_key", "secret (the service_role role): bypasses RLS; servers only"),
        "anon": ("anon key (legacy JWT)", "anon_key", "public, as the publishable key"),
        "service_role": ("service_role key (legacy JWT)", "service_role_key", "secret, as the secret key")}


async def index(request: Request) -> HTMLResponse:
    schema = services(request).schema
    tables = sorted(schema.tables.values(), key=lambda t: (t.schema, t.name))
    functions = sorted((f for overloads in schema.functions.values() for f in overloads[:1]),
                       key=lambda f: (f.schema, f.name))
    return page(request, "api.html", title="API docs", active="api", tables=tables, functions=functions,
                api_url=request.app.state.settings.api_url, keys=KEYS)


async def table(request: Request) -> HTMLResponse:
    svc = services(request)
    found = svc.schema.table(request.path_params["schema"], request.path_params["table"])
    if found is None:
        raise StudioError(404, "no such table or view in the exposed schemas")
    async with svc.owner.acquire() as conn:
        comments = await catalog.column_comments(conn, found.schema, found.name)
    writable = {n: c.type for n, c in found.columns.items() if not c.generated}
    snippets = apidocs.table_snippets(found.schema, found.name, writable, found.primary_key,
                                      found.insertable and found.updatable)
    return page(request, "api_table.html", title=f"API · {found.name}", active="api", table=found,
                comments=comments, snippets=snippets)


async def function(request: Request) -> HTMLResponse:
    overloads = services(request).schema.function_overloads(request.path_params["schema"], request.path_params["name"])
    if not overloads:
        raise StudioError(404, "no such function in the exposed schemas")
    fn = overloads[0]
    snippets = apidocs.function_snippets(fn.schema, fn.name, {a.name: a.type for a in fn.args if a.name},
                                         fn.volatility in ("i", "s"))
    return page(request, "api_function.html", title=f"API · {fn.name}", active="api", fn=fn, overloads=overloads,
                snippets=snippets)


async def reveal(request: Request) -> HTMLResponse:
    which = KEYS.get(request.path_params["key"])
    if which is None:
        raise StudioError(404, "no such key")
    value = getattr(request.app.state.settings, which[1])
    name = escape(request.path_params["key"])
    return HTMLResponse(f'<code class="secret" data-revealed="{name}">{escape(value)}</code>')


def routes() -> list[Route]:
    return [Route("/api", index), Route("/api/rpc/{schema}/{name}", function),
            Route("/api/keys/{key}/reveal", reveal, methods=["POST"]), Route("/api/{schema}/{table}", table)]
