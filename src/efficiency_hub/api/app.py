"""The FastAPI application: routers, the pooled HTTP client, and one error shape
({"detail", "code", "hint"}) for every refusal."""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from efficiency_hub import __version__
from efficiency_hub.api.routes import auth, citizens, events, evidence, protected, workspaces
from efficiency_hub.errors import HubError
from efficiency_hub.settings import HubSettings

DESCRIPTION = """The Efficiency Hub's API. Sign in at `/auth/login`, then send
`Authorization: Bearer <access_token>`: every request runs as you, and the database's row-level
security decides what you see (your own rows, your subordinates', your workspaces')."""


def create_app(settings: HubSettings | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = settings or HubSettings.from_env()
        # httpcore checks every idle connection on each request: a small pool is a fast pool
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
        async with httpx.AsyncClient(timeout=httpx.Timeout(30.0), limits=limits, http2=False,
                                     follow_redirects=True) as http:
            app.state.http = http
            yield

    app = FastAPI(title="Efficiency Hub", version=__version__, description=DESCRIPTION, lifespan=lifespan)

    @app.exception_handler(HubError)
    async def hub_error(request: Request, exc: HubError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"detail": exc.message, "code": exc.code, "hint": exc.hint}, exc.status,
                            headers=headers)

    @app.get("/health", tags=["service"])
    async def health(request: Request) -> dict[str, object]:
        # `efficiency-hub doctor` fails a deployment whose API holds the service-role key: user
        # requests must run with the user's own token.
        return {"status": "ok", "version": __version__,
                "service_role_configured": request.app.state.settings.service_role_key is not None}

    for module in (auth, citizens, events, evidence, protected, workspaces):
        app.include_router(module.router)
    return app
