"""GET /health: is this server able to serve? No apikey needed (load balancers, systemd, Docker).

    200 {"status": "ok", "database": "ok", "version": "0.1.0", "uptime": 12.5}
    503 {"status": "unavailable", "database": "unavailable", "detail": "...", ...}

The database counts as up when it answers `select 1` within PROBE_TIMEOUT seconds, on a
connection of the probe's own (a busy REST pool does not make the server look down, and a
probe never takes a connection a request is waiting for). Concurrent probes share one query.

Other parts may add components with `add_check(app, name, probe)`: `probe()` is an async
function returning (ok, detail); a component that is not ok makes /health answer 503.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse

import localbase
from localbase.process import workers

log = logging.getLogger("localbase.health")
PROBE_TIMEOUT = 1.0
Probe = Callable[[], Awaitable[tuple[bool, str]]]


class DatabaseProbe:
    """`select 1` on a connection kept for the purpose, re-opened after any failure."""

    def __init__(self, dsn: str, timeout: float = PROBE_TIMEOUT):
        self.dsn = dsn
        self.timeout = timeout
        self._conn: asyncpg.Connection | None = None
        self._running: asyncio.Task | None = None

    async def check(self) -> tuple[bool, str]:
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._check())
        try:
            return await asyncio.wait_for(asyncio.shield(self._running), self.timeout + 0.5)
        except TimeoutError:  # the probe's own timeout failed to fire: still an answer
            return False, f"no answer within {self.timeout:g}s"

    async def _check(self) -> tuple[bool, str]:
        try:
            async with asyncio.timeout(self.timeout):
                if self._conn is None or self._conn.is_closed():
                    self._conn = await asyncpg.connect(
                        self.dsn, server_settings={"application_name": "localbase-health"})
                await self._conn.fetchval("select 1")
            return True, "ok"
        except TimeoutError:
            self._drop()
            return False, f"no answer within {self.timeout:g}s"
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            self._drop()
            return False, f"{type(exc).__name__}: {exc}"

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()  # it may be mid-query: close without waiting for the server

    async def close(self) -> None:
        if self._running is not None and not self._running.done():
            self._running.cancel()
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), 1)
            except (TimeoutError, OSError, asyncpg.InterfaceError):
                conn.terminate()


def add_check(app, name: str, probe: Probe) -> None:
    """Report another component in /health (a failing one answers 503)."""
    app.state.health_checks[name] = probe


def setup(app, dsn: str) -> None:
    app.state.health_probe = DatabaseProbe(dsn)
    app.state.health_checks = {}
    app.state.health_ok = True
    app.state.started_monotonic = time.monotonic()


async def status(app) -> tuple[bool, dict]:
    """(healthy, body): what /health answers, for callers in-process too."""
    probe: DatabaseProbe = app.state.health_probe
    ok, detail = await probe.check()
    body: dict = {"status": "ok", "database": "ok" if ok else "unavailable", "version": localbase.__version__,
                  "uptime": round(time.monotonic() - app.state.started_monotonic, 1)}
    node = app.state.settings.nodes.node_id
    if node:  # which node answered: behind a load balancer, any of them may
        body["node"] = node
    worker = workers.current()
    if worker.several:  # which process answered: behind one port, any of them may
        body["worker"] = {"index": worker.index, "count": worker.count, "pid": os.getpid()}
    problems = {} if ok else {"database": detail}
    for name, check in list(app.state.health_checks.items()):
        try:
            c_ok, c_detail = await asyncio.wait_for(check(), PROBE_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - a broken probe is a failing component
            c_ok, c_detail = False, f"{type(exc).__name__}: {exc}"
        body[name] = "ok" if c_ok else "unavailable"
        if not c_ok:
            problems[name] = c_detail
    if problems:
        body["status"] = "unavailable"
        body["detail"] = problems
    return not problems, body


async def endpoint(request: Request) -> JSONResponse:
    healthy, body = await status(request.app)
    if healthy != request.app.state.health_ok:  # log changes, not every poll of a load balancer
        request.app.state.health_ok = healthy
        if healthy:
            log.info("health: ok again")
        else:
            log.warning("health: unavailable (%s)", body.get("detail"))
    return JSONResponse(body, status_code=200 if healthy else 503,
                        headers={"cache-control": "no-store"})
