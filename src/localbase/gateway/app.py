"""One ASGI app: the services under Supabase's paths, behind the key check and CORS; /health and
/metrics beside them. The stages every request passes: gateway/stack.py."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from localbase.auth import routes as auth_routes
from localbase.backup import scheduler as backup_scheduler
from localbase.bridge import service as bridge_service
from localbase.database.cluster import Cluster
from localbase.database.pool import Database
from localbase.functions import routes as functions_routes
from localbase.gateway import health, metrics, worker_metrics
from localbase.gateway.apikey import KeyCheck
from localbase.gateway.cors import Cors
from localbase.gateway.stack import Gateway
from localbase.net import service as net_service
from localbase.nodes import lifecycle as nodes
from localbase.process.collector import Collector
from localbase.realtime import routes as realtime_routes
from localbase.service_settings import load_service_settings
from localbase.settings import Settings, load_settings
from localbase.storage import routes as storage_routes

log = logging.getLogger("localbase.gateway")

EXPOSED_HEADERS = ["Content-Range", "Content-Location", "Location", "Preference-Applied",
                   "X-Client-Info", "X-Supabase-Api-Version",
                   # Storage: downloads and resumable (TUS) uploads, read by browser clients
                   "ETag", "Content-Disposition", "Upload-Offset", "Upload-Length", "Upload-Expires",
                   "Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size"]


async def not_found(request: Request, exc: Exception) -> JSONResponse:
    """What Supabase's gateway answers for a path no service serves."""
    status = getattr(exc, "status_code", 404)
    message = "no Route matched with those values" if status == 404 else getattr(exc, "detail", "error")
    return JSONResponse({"message": message}, status_code=status)


# Services mounted under Supabase's paths (REST, the hot path, is the stack's own stage), imported by
# name: a missing one is an import error, never skipped. A service module exposes `routes()` and
# `PUBLIC_PATHS` (those the gateway lets through without an API key), and may expose
# `async startup(app)` / `async shutdown(app)` for background work (listeners, consumers).
SERVICES: dict[str, Any] = {
    "/auth/v1": auth_routes,
    "/realtime/v1": realtime_routes,
    "/functions/v1": functions_routes,
    "/storage/v1": storage_routes,
}
PUBLIC_PATHS = ("/health", "/metrics")  # the gateway's own


def public_paths() -> tuple[str, ...]:
    return PUBLIC_PATHS + tuple(prefix + path for prefix, module in SERVICES.items() for path in module.PUBLIC_PATHS)


def _service_routes() -> list[BaseRoute]:
    return [Mount(prefix, routes=module.routes()) for prefix, module in SERVICES.items()]


def create_app(settings: Settings, database: Database | None = None) -> Gateway:
    services = load_service_settings(settings)  # a bad value stops start-up here (SettingsError)
    db = database or Cluster(settings).database()
    modules = SERVICES

    collector = Collector()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        from localbase.rest.read_cache import ReadCache
        from localbase.rest.schema_cache import SchemaCache
        # REST's schema cache loads (its own connection) while the pools and the services start
        schema_load = asyncio.create_task(SchemaCache.start(db, settings), name="schema-cache-load")
        try:
            await db.open()
            if app.state.reads is not None:
                await app.state.reads.open()
        except BaseException:
            await _discard(schema_load)
            raise
        app.state.rest_reads = ReadCache()
        started: list[Any] = []  # modules with startup/shutdown
        try:
            await nodes.startup(app)  # before Realtime, which records its slot in it
            started.append(nodes)
            for module in modules.values():
                if hasattr(module, "startup"):
                    await module.startup(app)
                    started.append(module)
            for background in (backup_scheduler, net_service, bridge_service):  # after the services
                await background.startup(app)
                started.append(background)
            await worker_metrics.startup(app)
            started.append(worker_metrics)
            if settings.studio.enabled:  # Studio's Logs page reads every worker's recent requests
                from localbase.studio import logbook
                await logbook.startup(app)
                started.append(logbook)
            app.state.schema_cache = await schema_load
            collector.start()  # what exists now lives as long as the worker: out of the collector's sight
            yield
        finally:
            await collector.stop()
            for module in reversed(started):
                if hasattr(module, "shutdown"):
                    try:
                        await module.shutdown(app)
                    except Exception:  # noqa: BLE001 - keep shutting the others down, but say so
                        log.exception("shutdown of %s failed", module.__name__)
            if getattr(app.state, "schema_cache", None) is not None:
                await app.state.schema_cache.stop()
            else:
                await _discard(schema_load)
            await app.state.health_probe.close()
            if app.state.reads is not None:
                await app.state.reads.close()
            await db.close()

    app = Starlette(
        routes=[Route("/health", health.endpoint, methods=["GET", "HEAD"]),
                Route("/metrics", metrics.endpoint, methods=["GET"]),
                *_service_routes()],
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: not_found},
    )
    app.state.settings = settings
    app.state.services = services
    app.state.db = db
    app.state.reads = _read_router(settings, db)
    app.state.metrics = metrics.RequestMetrics()
    health.setup(app, db.rest_dsn)
    gateway = Gateway(app, metrics=app.state.metrics, cors=Cors(None, EXPOSED_HEADERS, max_age=86400),
                      keys=KeyCheck(settings, public_paths()), max_body=settings.limits.max_body_bytes,
                      keyring=settings.keyring)
    if settings.access_log:
        from localbase.logs import access_logger
        gateway.access_log = access_logger()
    if settings.studio.enabled:
        from localbase.studio import logbook
        logbook.attach(gateway)
    return gateway


async def _discard(load: asyncio.Task) -> None:
    """A schema cache load the start-up gave up on: cancelled, or stopped if it finished."""
    load.cancel()
    try:
        cache = await load
    except (asyncio.CancelledError, Exception):  # noqa: BLE001 - start-up already failed on another error
        return
    await cache.stop()


def _read_router(settings: Settings, db: Database):
    """With --db-read-url: the router that sends REST reads to fresh replicas (database/replicas.py)."""
    if not settings.read_replicas.enabled:
        return None
    from localbase.database import replicas
    metrics.add_collector(replicas.collect)
    limits = settings.limits
    return replicas.ReadRouter(db.rest_dsn, Cluster(settings).read_dsns("authenticator"), settings.read_replicas,
                      pool_size=db.rest_pool_size, connect_timeout=limits.db_connect_timeout,
                      pool_timeout=limits.db_pool_timeout)


def app_from_env() -> Gateway:
    """Factory for `uvicorn --factory` and multi-worker runs: settings from LOCALBASE_* variables."""
    return create_app(load_settings(Path(os.environ.get("LOCALBASE_PROJECT_DIR", "."))))
