"""`localbase start --workers N`: N API processes answering on one listening socket.

The supervising process (this module, in the process that ran `localbase start`):
- keeps PostgreSQL: it started it, restarts it if it dies (database.supervisor), and shares the
  database's state with the workers through shared memory (a StatusBoard);
- binds the API socket once; every worker accepts on it, the kernel hands each new connection
  to one of them;
- starts the workers (spawned: each a fresh interpreter running the whole gateway), announces the
  server when all of them serve, and starts a worker again when one dies (backing off while one
  keeps dying at start);
- on SIGINT/SIGTERM asks every worker to stop (each finishes its requests in flight, as a single
  process does), then returns, and PostgreSQL is stopped after it.

State that must be one across workers lives in PostgreSQL: rate limits (auth.ratelimit), the
Realtime bus for broadcast and presence (realtime.bus); each worker reads its own replication slot.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from localbase.database.cluster import Cluster
from localbase.database.supervisor import StatusBoard, Supervisor, watch_board
from localbase.process import workers
from localbase.process.workers import MAX_WORKERS
from localbase.settings import Settings

log = logging.getLogger("localbase.server")

START_TIMEOUT_SECONDS = 60.0
STOP_GRACE_SECONDS = 15.0  # a worker gets this long (beyond its own graceful shutdown) before SIGKILL
MAX_BACKOFF_SECONDS = 10.0
POLL_SECONDS = 0.1


def rest_pool_size(count: int) -> int:
    """Connections of each worker's REST pool: one process keeps 20; several share about 40."""
    return 20 if count == 1 else max(8, 40 // count)


@dataclass
class _Slot:
    index: int
    process: multiprocessing.process.BaseProcess | None = None
    ready: object = None  # a multiprocessing Event, set by the worker once it serves
    started_at: float = 0.0
    failures: int = 0  # consecutive deaths soon after start
    due: float = 0.0  # when to start it again after a death


class WorkerPool:
    def __init__(self, settings: Settings, cluster: Cluster, count: int, studio_sock: socket.socket | None = None):
        if not 2 <= count <= MAX_WORKERS:
            raise ValueError(f"a worker pool runs 2 to {MAX_WORKERS} workers (one runs without it)")
        self.settings = settings
        self.cluster = cluster
        self.count = count
        self.studio_sock = studio_sock  # served by worker 0
        self.ctx = multiprocessing.get_context("spawn")
        self.board = StatusBoard(self.ctx)
        self.slots = [_Slot(i) for i in range(count)]
        self.stopping = asyncio.Event()
        self.log_level = logging.getLevelName(logging.getLogger().level).lower()

    # -- the supervising loop ----------------------------------------------------------------------
    async def serve(self, announce: Callable[[str | None], None]) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        supervisor = Supervisor(self.cluster.embedded, self.board) if self.cluster.embedded else None
        if supervisor:
            supervisor.start()
        sock = _bind(self.settings)
        try:
            for slot in self.slots:
                self._spawn(slot, sock)
            if await self._all_ready():
                from localbase.studio import serve as studio
                announce(studio.url(self.settings.studio, self.studio_sock))
                await self._watch(sock)
        finally:
            await self._stop_all()
            sock.close()
            if supervisor:
                await supervisor.stop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    def _spawn(self, slot: _Slot, sock: socket.socket) -> None:
        slot.ready = self.ctx.Event()
        slot.process = self.ctx.Process(
            target=_worker_main, name=f"localbase-worker-{slot.index}", daemon=False,
            args=(self.settings, slot.index, self.count, sock, self.board, slot.ready, self.log_level, os.getpid(),
                  self.studio_sock if slot.index == 0 else None))
        slot.started_at = time.monotonic()
        slot.process.start()

    async def _all_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self.stopping.is_set():
            if all(s.ready.is_set() for s in self.slots):  # type: ignore[attr-defined]
                return True
            dead = [s for s in self.slots if not s.process.is_alive()]  # type: ignore[union-attr]
            if dead:
                codes = ", ".join(f"worker {s.index} exit code {s.process.exitcode}" for s in dead)  # type: ignore[union-attr]
                raise SystemExit(f"an API worker failed to start ({codes}); its error is logged above")
            if time.monotonic() > deadline:
                raise SystemExit(f"the API workers did not start within {START_TIMEOUT_SECONDS:.0f}s")
            await asyncio.sleep(POLL_SECONDS / 2)
        return False

    async def _watch(self, sock: socket.socket) -> None:
        while not self.stopping.is_set():
            try:
                await asyncio.wait_for(self.stopping.wait(), POLL_SECONDS)
                return
            except TimeoutError:
                pass
            now = time.monotonic()
            for slot in self.slots:
                proc = slot.process
                if proc is not None and not proc.is_alive():
                    self._died(slot, now)
                if slot.process is None and now >= slot.due:
                    log.warning("starting API worker %d again", slot.index)
                    self._spawn(slot, sock)

    def _died(self, slot: _Slot, now: float) -> None:
        code = slot.process.exitcode  # type: ignore[union-attr]
        how = f"killed by {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
        slot.failures = slot.failures + 1 if now - slot.started_at < 10 else 1
        delay = 0.0 if slot.failures <= 1 else min(0.5 * 2 ** (slot.failures - 2), MAX_BACKOFF_SECONDS)
        log.error("API worker %d (pid %s) stopped unexpectedly (%s); starting it again in %.1fs",
                  slot.index, slot.process.pid, how, delay)  # type: ignore[union-attr]
        slot.process.close()  # type: ignore[union-attr]
        slot.process = None
        slot.due = now + delay

    async def _stop_all(self) -> None:
        running = [s.process for s in self.slots if s.process is not None and s.process.is_alive()]
        for proc in running:
            proc.terminate()  # SIGTERM: uvicorn's graceful shutdown in the worker
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while any(p.is_alive() for p in running) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for proc in running:
            if proc.is_alive():
                log.error("API worker pid %s did not stop within %.0fs; killing it", proc.pid, STOP_GRACE_SECONDS)
                proc.kill()
                proc.join(5)


def _bind(settings: Settings) -> socket.socket:
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        sock.close()
        raise OSError(f"port {settings.port} for the API on {settings.host} cannot be used ({exc.strerror})") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


# -- in a worker process -----------------------------------------------------------------------------
def _die_with_parent(parent: int) -> None:
    """SIGTERM this worker when the supervising process dies (even by kill -9)."""
    import ctypes
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return
    if os.getppid() != parent:  # it died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


def _worker_main(settings: Settings, index: int, count: int, sock: socket.socket, board: StatusBoard,
                 ready, log_level: str, parent: int, studio_sock: socket.socket | None = None) -> None:
    os.environ[workers.ENV_COUNT] = str(count)
    os.environ[workers.ENV_INDEX] = str(index)
    workers.current.cache_clear()
    _die_with_parent(parent)
    from localbase.process import uvicorn_import
    uvicorn_import.install()  # as the single process does (server.import_api)
    from localbase import logs
    logs.configure(settings.log_format, log_level, access_log=settings.access_log)
    watch_board(board)
    from localbase.process import server
    server.quiet_signals()
    with asyncio.Runner(loop_factory=server.loop_factory()) as runner:
        runner.run(_worker_serve(settings, count, sock, ready, studio_sock))


async def _worker_serve(settings: Settings, count: int, sock: socket.socket, ready,
                        studio_sock: socket.socket | None = None) -> None:
    import uvicorn

    from localbase.gateway.app import create_app
    from localbase.process import server
    app = create_app(settings, Cluster(settings).database(rest_pool_size=rest_pool_size(count)))
    srv = uvicorn.Server(server.uvicorn_config(settings, app))
    task = asyncio.create_task(srv.serve(sockets=[sock]))
    while not srv.started and not task.done():
        await asyncio.sleep(0.01)
    studio = None
    if srv.started:
        studio = await server.start_studio(settings, app, studio_sock)
        ready.set()
    try:
        await task
    finally:
        if studio is not None:
            await studio.stop()
    if not srv.started:
        raise SystemExit(1)
