"""Realtime's routes under /realtime/v1, and its start-up / shutdown in the gateway's lifespan.

- `/websocket`: the Phoenix socket the clients open (`?apikey=...&vsn=1.0.0`)
- `POST /api/broadcast`, `POST /api/broadcast/{topic}/events/{event}`: broadcast over HTTP
- `GET /api/stats`: counters and queue depths (service_role key only)
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from localbase.realtime import broadcast
from localbase.realtime.service import Realtime
from localbase.realtime.socket import Connection

log = logging.getLogger("localbase.realtime")
CLOSE_TOO_MANY = 1013  # "try again later": the clients reconnect with their backoff


async def websocket(ws: WebSocket) -> None:
    service: Realtime | None = getattr(ws.app.state, "realtime", None)
    if service is None:
        await ws.close(1013, "Realtime is not running")
        return
    limit = ws.app.state.settings.limits.realtime_max_connections
    if service.stats["open_sockets"] >= limit:  # accepted, to say why in a close code (1013: try later)
        service.stats["refused_connections"] += 1
        await ws.accept()
        await ws.close(CLOSE_TOO_MANY, f"too many connections (limit {limit})")
        return
    service.stats["open_sockets"] += 1
    try:
        await Connection(ws, service).serve()
    finally:
        service.stats["open_sockets"] -= 1


async def stats(request: Request) -> JSONResponse:
    if request.scope.get("state", {}).get("apikey_role") != "service_role":
        return JSONResponse({"message": "the service_role key is required"}, status_code=403)
    service: Realtime = request.app.state.realtime
    return JSONResponse(service.snapshot())


PUBLIC_PATHS: tuple[str, ...] = ()  # every socket names an API key


def routes() -> list[BaseRoute]:
    return [
        WebSocketRoute("/websocket", websocket),
        Route("/api/broadcast", broadcast.endpoint, methods=["POST"]),
        Route("/api/broadcast/{topic}/events/{event}", broadcast.endpoint_one, methods=["POST"]),
        Route("/api/stats", stats, methods=["GET"]),
    ]


async def startup(app) -> None:
    config = app.state.services.realtime
    app.state.realtime = None
    if not config.enabled:
        log.info("realtime: disabled in config.toml")
        return
    service = Realtime(app.state.settings, config, getattr(app.state, "membership", None))
    await service.start()
    app.state.realtime = service


async def shutdown(app) -> None:
    service: Realtime | None = getattr(app.state, "realtime", None)
    if service is not None:
        app.state.realtime = None
        await service.stop()
