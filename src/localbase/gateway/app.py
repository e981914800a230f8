"""One ASGI app: the services mounted under Supabase's paths, behind the key check and CORS."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from localbase.database.cluster import Cluster
from localbase.database.pool import Database
from localbase.gateway.apikey import ApiKeyMiddleware
from localbase.settings import Settings, load_settings

log = logging.getLogger("localbase.gateway")

EXPOSED_HEADERS = ["Content-Range", "Content-Location", "Location", "Preference-Applied",
                   "X-Client-Info", "X-Supabase-Api-Version"]


async def health(request: Request) -> JSONResponse:
    db: Database = request.app.state.db
    ok = await db.healthy()
    return JSONResponse({"status": "ok" if ok else "unavailable", "database": ok},
                        status_code=200 if ok else 503)


def _service_routes() -> list[BaseRoute]:
    """Each service contributes its routes; a service not built yet contributes nothing."""
    routes: list[BaseRoute] = []
    from localbase.rest import routes as rest_routes
    routes.append(Mount("/rest/v1", routes=rest_routes.routes()))
    with contextlib.suppress(ImportError):
        from localbase.auth import routes as auth_routes  # type: ignore[attr-defined]
        routes.append(Mount("/auth/v1", routes=auth_routes.routes()))
    return routes


def create_app(settings: Settings, database: Database | None = None) -> Starlette:
    db = database or Cluster(settings).database()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        await db.open()
        from localbase.rest.schema_cache import SchemaCache
        app.state.schema_cache = await SchemaCache.start(db, settings)
        try:
            yield
        finally:
            await app.state.schema_cache.stop()
            await db.close()

    app = Starlette(
        routes=[Route("/health", health, methods=["GET", "HEAD"]), *_service_routes()],
        middleware=[
            Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"],
                       expose_headers=EXPOSED_HEADERS, max_age=86400),
            Middleware(ApiKeyMiddleware, settings=settings),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    return app


def app_from_env() -> Starlette:
    """Factory for `uvicorn --factory` and multi-worker runs: settings from LOCALBASE_* variables."""
    return create_app(load_settings(Path(os.environ.get("LOCALBASE_PROJECT_DIR", "."))))
