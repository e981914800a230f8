"""Keeps the embedded PostgreSQL running while Localbase serves.

When the postmaster dies (kill -9, the OOM killer, a crash), requests get 503 in the meantime
(the pools' connections fail at once) and the supervisor starts PostgreSQL again on the same data
folder: it waits for the backends the dead postmaster left behind to leave (PostgreSQL refuses to
start while they hold its shared memory), starts the postmaster, which replays its WAL (crash
recovery: every committed transaction is there, no uncommitted one is), and waits until it
accepts connections. The connection pools reconnect by themselves on their next use.

`database_status()` is what a health check reads: {"state": "up" | "down" | "restarting" |
"external" | "stopped", "restarts": n, "down_since": unix time or None, "last_error": str or None}.

With several API workers (`--workers N`) the supervisor runs in the supervising process, which
started PostgreSQL; it mirrors its status into a `StatusBoard` (shared memory), which each worker
reads through `watch_board` — `database_down()` stays a memory read on every request.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from typing import TYPE_CHECKING, Any

from localbase.database.embedded import EmbeddedPostgres, EmbeddedPostgresError
from localbase.process import tasks

if TYPE_CHECKING:
    from multiprocessing.context import SpawnContext

log = logging.getLogger("localbase.database")

POLL_SECONDS = 0.1  # how often the postmaster is looked at (a waitpid, no system load)
ORPHAN_WAIT_SECONDS = 10.0  # backends of a dead postmaster normally leave within milliseconds
READY_TIMEOUT_SECONDS = 60.0  # crash recovery of a large WAL can take a while
MAX_BACKOFF_SECONDS = 10.0

_current: Supervisor | StatusBoard | None = None
STATES = ("up", "down", "restarting", "stopped")
_ERROR_BYTES = 480


def database_status() -> dict[str, Any]:
    """The database's state as the running server sees it (for /health)."""
    if _current is None:
        return {"state": "external", "restarts": 0, "down_since": None, "last_error": None}
    return _current.status()


def database_down() -> bool:
    """True while the embedded PostgreSQL is known to be down or restarting."""
    return _current is not None and _current.state in ("down", "restarting")


class StatusBoard:
    """The supervisor's status in shared memory: written by the supervising process, read by the
    API workers it spawned (pass it to them as a process argument)."""

    def __init__(self, ctx: SpawnContext):
        self.numbers = ctx.RawArray("d", 3)  # state index, restarts, down_since (0 = None)
        self.error = ctx.RawArray("c", _ERROR_BYTES)

    def write(self, status: dict[str, Any]) -> None:
        self.numbers[1] = status["restarts"]
        self.numbers[2] = status["down_since"] or 0.0
        self.error.value = (status["last_error"] or "").encode()[:_ERROR_BYTES - 1]
        self.numbers[0] = STATES.index(status["state"])  # last: a reader sees the state change after the rest

    @property
    def state(self) -> str:
        return STATES[int(self.numbers[0])]

    def status(self) -> dict[str, Any]:
        return {"state": self.state, "restarts": int(self.numbers[1]), "down_since": self.numbers[2] or None,
                "last_error": self.error.value.decode(errors="replace") or None}


def watch_board(board: StatusBoard) -> None:
    """In an API worker: database_status()/database_down() answer from the shared board."""
    global _current
    _current = board  # it answers .state and .status() as the supervisor does


_PUBLISHED = frozenset(("state", "restarts", "down_since", "last_error"))


class Supervisor:
    def __init__(self, embedded: EmbeddedPostgres, board: StatusBoard | None = None):
        self.board = None
        self.embedded = embedded
        self.state = "up"
        self.restarts = 0
        self.down_since: float | None = None
        self.last_error: str | None = None
        self._task: asyncio.Task | None = None
        self.board = board
        if board is not None:
            board.write(self.status())

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in _PUBLISHED and self.board is not None:
            self.board.write(self.status())

    def status(self) -> dict[str, Any]:
        return {"state": self.state, "restarts": self.restarts, "down_since": self.down_since,
                "last_error": self.last_error}

    # -- lifecycle (call from the event loop of the thread that started PostgreSQL) -------------
    def start(self) -> None:
        global _current
        _current = self
        self._task = asyncio.create_task(self._watch(), name="localbase-postgres-supervisor")

    async def stop(self) -> None:
        """Before a clean shutdown stops PostgreSQL: from now on its exit is expected."""
        global _current
        await tasks.cancel(self._task)
        self._task = None
        self.state = "stopped"
        if _current is self:
            _current = None

    # -- watching ----------------------------------------------------------------------------------
    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            proc = self.embedded.process
            if proc is None or proc.poll() is None:
                continue
            self._went_down(proc.returncode)
            await self._restart()

    def _went_down(self, code: int | None) -> None:
        how = f"killed by {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
        self.state = "down"
        self.down_since = time.time()
        self.last_error = f"PostgreSQL stopped unexpectedly ({how})"
        log.error("%s; restarting it on %s", self.last_error, self.embedded.pgdata)

    async def _restart(self) -> None:
        attempt = 0
        while True:
            attempt += 1
            self.state = "restarting"
            began = time.monotonic()
            try:
                await self._wait_for_orphans()
                self.embedded.launch(orphan_wait=0)  # here, on the loop's (main) thread: see launch()
                await self.embedded.wait_ready_async(READY_TIMEOUT_SECONDS)
            except (EmbeddedPostgresError, OSError) as exc:
                self.last_error = f"restarting PostgreSQL failed: {exc}"
                delay = min(0.25 * 2 ** attempt, MAX_BACKOFF_SECONDS)
                log.error("%s (attempt %d; next in %.1fs)", self.last_error, attempt, delay)
                self.state = "down"
                await asyncio.sleep(delay)
                continue
            self.restarts += 1
            log.warning("PostgreSQL restarted in %.2fs (down for %.2fs)", time.monotonic() - began,
                        time.time() - (self.down_since or time.time()))
            self.state = "up"
            self.down_since = None
            return

    async def _wait_for_orphans(self) -> None:
        """The killed postmaster's backends notice its death and exit; launch() kills any that
        are still there after the wait (without blocking the event loop meanwhile)."""
        deadline = time.monotonic() + ORPHAN_WAIT_SECONDS
        while self.embedded.holders() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
