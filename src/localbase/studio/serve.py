"""Serving Studio beside the API, once per deployment.

`localbase start` binds Studio's socket before PostgreSQL starts (a port in use is a clear error
at once, and port 0 picks a free one), then Studio runs as a second uvicorn server in the process
that serves the API - the single process, or worker 0 of `--workers N` (the supervisor hands it
the socket, so a restarted worker 0 serves it again) - sharing that process's database pools,
schema cache and services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import uvicorn

from localbase.settings import Settings
from localbase.studio.listen import bind, url

__all__ = ["Running", "bind", "start", "url"]

log = logging.getLogger("localbase.studio")
STOP_SECONDS = 2  # open live views (server-sent events) get this long when the server stops


class _Server(uvicorn.Server):
    """The API's server handles SIGINT/SIGTERM; this one is stopped by it."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


class Running:
    def __init__(self, server: _Server, task: asyncio.Task) -> None:
        self.server = server
        self.task = task

    async def stop(self) -> None:
        self.server.should_exit = True
        try:
            await self.task
        except SystemExit:  # its lifespan failed at start; that was logged then
            pass


class LazyStudio:
    """Studio's ASGI app, made on its first request: its pages, templates and services are imported
    and opened then (an idle server that nobody opened Studio on does not pay for them). The
    server's lifespan closes what was opened."""

    def __init__(self, settings: Settings, gateway) -> None:
        self.settings, self.gateway = settings, gateway
        self.server: uvicorn.Server | None = None
        self.app = None
        self._opened: contextlib.AbstractAsyncContextManager | None = None
        self._lock = asyncio.Lock()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        app = self.app or await self._make()
        await app(scope, receive, send)

    async def _make(self):
        async with self._lock:
            if self.app is None:
                from localbase.studio.app import create_app
                app = create_app(self.settings, self.gateway)
                app.state.server = self.server  # its live views end when the server stops
                opened = app.router.lifespan_context(app)
                await opened.__aenter__()
                self._opened, self.app = opened, app
        return self.app

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                opened, self._opened, self.app = self._opened, None, None
                if opened is not None:
                    await opened.__aexit__(None, None, None)
                await send({"type": "lifespan.shutdown.complete"})
                return


async def start(settings: Settings, gateway, sock: socket.socket) -> Running | None:
    """Serve Studio on `sock` until stop(); None (and logged) when it cannot start, the API serving on."""
    studio = settings.studio
    app = LazyStudio(settings, gateway)
    config = uvicorn.Config(app, log_level=None, log_config=None, access_log=False,
                            lifespan="on", timeout_graceful_shutdown=STOP_SECONDS,
                            ssl_certfile=studio.ssl_certfile or None, ssl_keyfile=studio.ssl_keyfile or None)
    server = _Server(config)
    app.server = server
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    if not server.started:
        try:
            await task
        except BaseException as exc:  # noqa: BLE001 - Studio failing must not take the API down
            log.error("Studio did not start: %s", exc)
        return None
    return Running(server, task)
