"""/functions/v1/<name>: verify the caller's JWT (unless the function opts out in config.toml with
`[functions.<name>] verify_jwt = false`), then run the function with the request as sent: a Python
handler (index.py) in this process, a Deno one (index.ts, as on Supabase) in its own process."""

from __future__ import annotations

import logging
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from localbase.functions.deno import DenoRuntime
from localbase.functions.loader import ENTRY, NAME_RE, FunctionLoader, FunctionLoadError, FunctionNotFound
from localbase.functions.runner import BOOT_ERROR, error_response, invoke
from localbase.security import jwt

log = logging.getLogger("localbase.functions")


async def startup(app: Starlette) -> None:
    settings = app.state.settings
    app.state.functions = FunctionLoader(settings.functions_dir, settings.section("functions"))
    # What Supabase gives every function in its environment (Deno.env there, os.environ here).
    os.environ.setdefault("SUPABASE_URL", settings.api_url)
    os.environ.setdefault("SUPABASE_ANON_KEY", settings.anon_key)
    os.environ.setdefault("SUPABASE_SERVICE_ROLE_KEY", settings.service_role_key)
    os.environ.setdefault("SUPABASE_DB_URL", _db_url(settings))
    names = ("SUPABASE_URL", "SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_DB_URL")
    app.state.deno = DenoRuntime(settings, {name: os.environ[name] for name in names})


async def shutdown(app: Starlette) -> None:
    await app.state.deno.close()  # every Deno process stops with the server


def _db_url(settings) -> str:
    from localbase.database.cluster import Cluster
    return Cluster(settings).connect_url


def _unauthorized(message: str) -> Response:
    return error_response(401, "UNAUTHORIZED", message)


async def run_function(request: Request) -> Response:
    name = request.path_params["name"]
    loader: FunctionLoader = request.app.state.functions
    deno: DenoRuntime = request.app.state.deno
    # index.py is a Python function; without one, index.ts (or the configured entrypoint) a Deno one
    entry = None if not NAME_RE.match(name) or (loader.folder / name / ENTRY).is_file() else deno.entry(name)
    if entry is not None:
        verify_jwt = bool(deno.functions_config.get(name, {}).get("verify_jwt", True))
    else:
        try:
            fn = loader.get(name)
        except FunctionNotFound:
            await deno.forget(name)  # a TypeScript function deleted: its process goes too
            return error_response(404, "NOT_FOUND", f"Requested function was not found: {name}")
        except FunctionLoadError as exc:
            log.error("function %s failed to load: %s", name, exc)
            return error_response(503, "BOOT_ERROR", BOOT_ERROR, relay=True)
        verify_jwt = fn.verify_jwt
    if verify_jwt:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _unauthorized("Missing authorization header")
        try:
            jwt.verify(token, request.app.state.settings.keyring)
        except jwt.JWTError as exc:
            return _unauthorized("JWT expired" if exc.expired else "Invalid JWT")
    if entry is not None:
        return await deno.invoke(name, entry, request)
    return await invoke(fn, request, timeout=deno.request_timeout)


# The gateway asks no API key here: a function verifies the caller's JWT itself (verify_jwt).
PUBLIC_PATHS = ("/",)


def routes() -> list[BaseRoute]:
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return [Route("/{name}", run_function, methods=methods),
            Route("/{name}/{rest:path}", run_function, methods=methods)]
