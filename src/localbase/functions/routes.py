"""/functions/v1/<name>: verify the caller's JWT (unless the function opts out in config.toml with
`[functions.<name>] verify_jwt = false`), then run the function with the request as sent."""

from __future__ import annotations

import logging
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from localbase.functions.loader import FunctionLoader, FunctionLoadError, FunctionNotFound
from localbase.functions.runner import error_response, invoke
from localbase.security import jwt

log = logging.getLogger("localbase.functions")


async def startup(app: Starlette) -> None:
    settings = app.state.settings
    app.state.functions = FunctionLoader(settings.functions_dir, settings.section("functions"))
    # What Supabase gives every function in its environment (Deno.env there, os.environ here).
    os.environ.setdefault("SUPABASE_URL", settings.api_url)
    os.environ.setdefault("SUPABASE_ANON_KEY", settings.anon_key)
    os.environ.setdefault("SUPABASE_SERVICE_ROLE_KEY", settings.service_role_key)


def _unauthorized(message: str) -> Response:
    return error_response(401, "UNAUTHORIZED", message)


async def run_function(request: Request) -> Response:
    name = request.path_params["name"]
    loader: FunctionLoader = request.app.state.functions
    try:
        fn = loader.get(name)
    except FunctionNotFound:
        return error_response(404, "NOT_FOUND", f"Requested function was not found: {name}")
    except FunctionLoadError as exc:
        log.error("function %s failed to load: %s", name, exc)
        return error_response(503, "BOOT_ERROR", f"Function failed to start: {exc}", relay=True)
    if fn.verify_jwt:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _unauthorized("Missing authorization header")
        try:
            jwt.verify(token, request.app.state.settings.jwt_secret)
        except jwt.JWTError as exc:
            return _unauthorized("JWT expired" if exc.expired else "Invalid JWT")
    return await invoke(fn, request)


def routes() -> list[BaseRoute]:
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return [Route("/{name}", run_function, methods=methods),
            Route("/{name}/{rest:path}", run_function, methods=methods)]
