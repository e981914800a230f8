"""Run the whole stack in the foreground: database, bootstrap + migrations, then the API.

Start-up overlaps what does not depend on each other: the embedded PostgreSQL is launched before
the API's modules are imported; a thread waits for it to accept connections and applies the
bootstrap and migrations while the main thread imports the API (uvicorn, the services); the API
serves once both are done. A new data folder's initdb (a subprocess, about a second) runs while a
thread imports the API.

Ctrl+C (SIGINT) or SIGTERM stops the API gracefully, then PostgreSQL with a fast shutdown."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localbase.database import orphans
from localbase.database.cluster import Cluster, PrepareReport
from localbase.settings import Settings, SettingsError

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger("localbase")
STATE_FILE = "server.json"
GRACEFUL_SECONDS = 10  # requests in flight get this long to finish on SIGINT/SIGTERM


@dataclass
class Ready:
    settings: Settings
    db_url: str
    report: PrepareReport
    started_in: float
    workers: int = 1
    studio_url: str | None = None


def state_path(settings: Settings) -> Path:
    return settings.data_dir / STATE_FILE


process_alive = orphans.running  # a zombie (exited, not reaped yet) counts as stopped


def read_state(settings: Settings) -> dict | None:
    """The running server's state file, when its process is alive."""
    path = state_path(settings)
    try:
        state = json.loads(path.read_text())
        pid = int(state["pid"])
    except (OSError, ValueError, KeyError):
        return None
    return state if process_alive(pid) else None


def run(settings: Settings, *, workers: int = 1, on_ready: Callable[[Ready], None] | None = None,
        on_phase: Callable[[str], None] | None = None) -> None:
    from localbase.studio import listen as studio
    phase = on_phase or (lambda _msg: None)
    started = time.perf_counter()
    try:
        settings.studio.check()  # never serve Studio to the network without a password
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    _check_port_free(settings)  # before PostgreSQL starts and migrations run
    studio_sock = studio.bind(settings.studio)
    try:
        _run(settings, workers, studio_sock, on_ready, phase, started)
    finally:
        if studio_sock is not None:
            studio_sock.close()


def _run(settings: Settings, workers: int, studio_sock, on_ready: Callable[[Ready], None] | None,
         phase: Callable[[str], None], started: float) -> None:
    cluster = Cluster(settings)
    phase("starting PostgreSQL" if cluster.embedded else "connecting to the database")
    # a new cluster: the API is imported in a thread while initdb runs (a subprocess, ~1 s)
    imports = Background(lambda: import_api(settings), "localbase-import") if cluster.needs_init else None
    try:
        cluster.launch()
    except BaseException:
        if imports is not None:
            imports.result()  # not left importing while the interpreter exits
        raise
    try:
        prepared = Background(lambda: _ready_and_prepared(cluster, settings))
        if imports is None:
            import_api(settings)  # while PostgreSQL starts and the bootstrap and migrations run
        else:
            imports.result()
        phase("applying bootstrap SQL and migrations")
        report = prepared.result()
        phase("starting the API" if workers == 1 else f"starting {workers} API workers")
        def announce(studio_url: str | None) -> None:
            _announce(settings, cluster, report, started, on_ready, workers, studio_url)

        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            if workers > 1:
                gc.enable()  # this process supervises; each worker's lifespan starts its Collector
                from localbase.process.worker_pool import WorkerPool
                runner.run(WorkerPool(settings, cluster, workers, studio_sock).serve(announce))
            else:
                runner.run(_serve(settings, cluster, announce, studio_sock))
    finally:
        gc.enable()  # whichever way start-up ended (localbase/__main__.py disabled it)
        state_path(settings).unlink(missing_ok=True)
        cluster.stop()


class Background:
    """`work()` in a thread of its own; result() waits for it and returns its value or raises its
    exception in the caller's thread."""

    def __init__(self, work: Callable[[], Any], name: str = "localbase-prepare"):
        self._work = work
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._work()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread by result()
            self._error = exc

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def _ready_and_prepared(cluster: Cluster, settings: Settings) -> PrepareReport:
    cluster.wait_ready()
    return asyncio.run(_prepare(cluster, settings))


def import_api(settings: Settings) -> None:
    """Import what serving needs (about half a second of a start), so that it happens while
    PostgreSQL starts rather than after."""
    from localbase.process import uvicorn_import
    uvicorn_import.install()  # uvicorn without its command line (click, the reloaders)

    import localbase
    import localbase.gateway.app  # noqa: F401
    import localbase.rest.read_cache  # noqa: F401
    import localbase.rest.schema_cache  # noqa: F401
    if settings.studio.enabled:
        import localbase.studio.logbook  # noqa: F401
        import localbase.studio.serve  # noqa: F401
    loop_factory()
    uvicorn_config(settings, _no_app).load()  # imports the HTTP, WebSocket and lifespan protocols it picks
    localbase.__version__  # noqa: B018 - read from the package's metadata once, here


async def _no_app(scope, receive, send) -> None:  # pragma: no cover - never served
    raise RuntimeError("not an app")


async def _prepare(cluster: Cluster, settings: Settings) -> PrepareReport:
    """Bootstrap + migrations (once, whichever node comes first), then what this node must agree on
    with the running ones (nodes/agreement.py)."""
    from localbase.nodes import agreement
    return await cluster.prepare(check=lambda conn: agreement.check(conn, settings))


def _check_port_free(settings: Settings) -> None:
    import socket
    with socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            s.bind((settings.host, settings.port))
        except OSError as exc:
            raise OSError(f"port {settings.port} for the API on {settings.host} cannot be used ({exc.strerror}); "
                          f"stop what holds it or choose another with --port") from None


def _announce(settings: Settings, cluster: Cluster, report: PrepareReport, started: float,
              on_ready: Callable[[Ready], None] | None, workers: int = 1, studio_url: str | None = None) -> None:
    state = {"pid": os.getpid(), "api_url": settings.api_url, "db_url": cluster.public_url,
             "db_port": settings.db_port, "started_at": time.time(), "workers": workers, "studio_url": studio_url}
    path = state_path(settings)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # DB_URL holds the password
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(state))
    os.replace(tmp, path)
    if on_ready:
        on_ready(Ready(settings, cluster.public_url, report, time.perf_counter() - started, workers, studio_url))


def loop_factory():
    """uvloop when installed (it is, with uvicorn[standard]): markedly less overhead per request."""
    try:
        import uvloop
        return uvloop.new_event_loop
    except ImportError:  # pragma: no cover - a minimal install
        return None


def quiet_signals() -> None:
    """uvicorn handles SIGINT/SIGTERM with a graceful shutdown and then re-raises the signal through
    the handlers that were installed before it: make those no-ops, so that after the API has
    stopped we still stop PostgreSQL in order, remove the state file and exit 0."""
    import signal
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)


def uvicorn_config(settings: Settings, app) -> uvicorn.Config:
    import uvicorn

    from localbase.gateway.limits import http_protocol
    # log_config=None: uvicorn's loggers go through ours (text or JSON, see localbase.logs).
    # X-Forwarded-For / -Proto only from [api] trusted_proxies (none by default: uvicorn's own
    # default trusts 127.0.0.1, so any local client could pick its address, e.g. to escape the auth
    # rate limits); behind them, the client is the right-most address that is not a trusted proxy.
    # Without trusted proxies uvicorn's proxy-header stage would trust nobody: it is left out.
    return uvicorn.Config(app, host=settings.host, port=settings.port, log_level=None, log_config=None,
                          proxy_headers=bool(settings.trusted_proxies),
                          forwarded_allow_ips=list(settings.trusted_proxies),
                          access_log=False, lifespan="on", timeout_graceful_shutdown=GRACEFUL_SECONDS,
                          http=http_protocol(settings.limits), ws_max_size=settings.limits.realtime_max_frame_bytes,
                          # no permessage-deflate (Phoenix's default, so Supabase Realtime's): compressing
                          # every small change frame costs more CPU than it saves on the wire
                          ws_per_message_deflate=False,
                          h11_max_incomplete_event_size=settings.limits.max_header_bytes)


async def _serve(settings: Settings, cluster: Cluster, announce: Callable[[str | None], None],
                 studio_sock=None) -> None:
    import uvicorn

    from localbase.database.supervisor import Supervisor
    from localbase.gateway.app import create_app
    quiet_signals()
    supervisor = Supervisor(cluster.embedded) if cluster.embedded else None
    if supervisor:
        supervisor.start()  # restarts the embedded PostgreSQL if it dies while we serve
    gateway = create_app(settings, cluster.database())
    server = uvicorn.Server(uvicorn_config(settings, gateway))
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    studio = None
    if server.started:
        studio = await start_studio(settings, gateway, studio_sock)
        announce(studio_url(settings, studio, studio_sock))
    try:
        await task
    finally:
        if studio is not None:
            await studio.stop()
        if supervisor:
            await supervisor.stop()  # from here on, PostgreSQL stopping is expected
    if not server.started:
        raise SystemExit(f"could not serve on {settings.host}:{settings.port} (is the port in use?)")


async def start_studio(settings: Settings, gateway, sock):
    """Studio on its socket, in this process (None when disabled or it could not start)."""
    if sock is None:
        return None
    from localbase.studio import serve
    return await serve.start(settings, gateway, sock)


def studio_url(settings: Settings, running, sock) -> str | None:
    from localbase.studio import listen
    return listen.url(settings.studio, sock) if running is not None else None
