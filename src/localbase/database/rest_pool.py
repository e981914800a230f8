"""REST's connections to PostgreSQL: a first-come, first-served place, then the connection used last.

Every REST request (and Storage's, which runs through rest/execute.py) takes one of these for a
statement or two. asyncpg's own pool cost ~22 µs of the server's CPU per request to hand a
connection out and take it back (a task and a timeout for every release, a timer re-armed for every
connection, a proxy object per use) — about a tenth of a small read's Python time. Here:

- at most `size` connections are in use: the FairGate in front admits that many requests and hands
  a freed place straight to the longest waiter (GateTimeout after `wait_timeout`);
- an admitted request takes the connection released last (its caches are warm), or opens one;
- a connection comes back synchronously, with no await, when it is clean: open, not in a
  transaction, no cancellation pending. Anything else (a request cancelled mid-statement, a
  protocol error, a connection PostgreSQL closed) is terminated instead of reused, so no request
  ever starts on what another one left half done. Nothing is reset between requests: every
  use sets the whole request context first (rest/execute.py);
- connections idle longer than `idle_seconds` are closed, down to `min_size`.

The interface is the part of asyncpg's Pool the server uses: acquire() as an async context manager,
close(), terminate() and the sizes /metrics reads."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from localbase.database.gate import FairGate

log = logging.getLogger("localbase.database")

CLOSE_TIMEOUT = 5.0  # seconds for a graceful close of a connection before it is terminated


class RestPool:
    def __init__(self, dsn: str, size: int, *, min_size: int = 1, connect_timeout: float = 5.0,
                 wait_timeout: float | None = None, idle_seconds: float = 300.0,
                 init: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
                 server_settings: dict[str, str] | None = None):
        self.gate = FairGate(size, timeout=wait_timeout)
        self._dsn = dsn
        self._size = size
        self._min_size = min(min_size, size)
        self._connect_timeout = connect_timeout
        self._idle_seconds = idle_seconds
        self._init = init
        self._server_settings = server_settings or {}
        self._idle: deque[tuple[asyncpg.Connection, float]] = deque()  # newest on the right
        self._busy: set[asyncpg.Connection] = set()
        self._opening = 0
        self._closing = False
        self._timer: asyncio.TimerHandle | None = None
        self._released: asyncio.Event | None = None  # set when the last busy connection comes back (close)
        self._tasks: set[asyncio.Task] = set()

    # -- lifecycle ----------------------------------------------------------------------------
    async def open(self) -> RestPool:
        for _ in range(self._min_size):
            self._idle.append((await self._connect(), time.monotonic()))
        self._arm()
        return self

    async def close(self, timeout: float = 10.0) -> None:
        """Wait (up to `timeout`) for the connections in use to come back, then close them all."""
        self._closing = True
        self._disarm()
        if self._busy:
            self._released = asyncio.Event()
            try:
                await asyncio.wait_for(self._released.wait(), timeout)
            except TimeoutError:
                log.warning("closing REST connections still in use after %.0f s", timeout)
                for conn in list(self._busy):
                    conn.terminate()
        idle = [conn for conn, _ in self._idle]  # those in use came back here (or were terminated)
        self._idle.clear()
        await asyncio.gather(*(_close(conn) for conn in idle))
        for task in list(self._tasks):
            await task

    def terminate(self) -> None:
        self._closing = True
        self._disarm()
        for conn, _ in self._idle:
            conn.terminate()
        self._idle.clear()
        for conn in self._busy:
            conn.terminate()

    # -- use ----------------------------------------------------------------------------------
    def acquire(self) -> _Lease:
        return _Lease(self)

    def _take_now(self) -> asyncpg.Connection | None:
        """An idle connection at once when a place is free (the common case: no coroutine, no
        await), else None and `_take` waits for one."""
        if self._closing or not self._idle or not self.gate.enter_now():
            return None
        while self._idle:
            conn = self._idle.pop()[0]
            if not conn.is_closed():
                self._busy.add(conn)
                return conn
        self.gate._release()  # only closed ones were idle: `_take` opens one, in turn
        return None

    async def _take(self) -> asyncpg.Connection:
        if self._closing:
            raise asyncpg.InterfaceError("the REST pool is closing")
        await self.gate.__aenter__()
        try:
            while self._idle:
                conn = self._idle.pop()[0]
                if not conn.is_closed():
                    break
            else:
                self._opening += 1
                try:
                    conn = await self._connect()
                finally:
                    self._opening -= 1
        except BaseException:
            self.gate._release()
            raise
        self._busy.add(conn)
        return conn

    def _give(self, conn: asyncpg.Connection) -> None:
        try:
            self._busy.discard(conn)
            if conn.is_closed():
                return
            if not _clean(conn):
                conn.terminate()  # never hand on what a request left half done
                return
            self._idle.append((conn, time.monotonic()))
        finally:
            self.gate._release()
            if self._released is not None and not self._busy:
                self._released.set()

    async def _connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(self._dsn, timeout=self._connect_timeout,
                                     server_settings=self._server_settings)
        try:
            if self._init is not None:
                await self._init(conn)
        except BaseException:
            conn.terminate()
            raise
        return conn

    # -- idle connections ---------------------------------------------------------------------
    def _arm(self) -> None:
        if self._idle_seconds and not self._closing:
            self._timer = asyncio.get_running_loop().call_later(self._idle_seconds / 2, self._prune)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _prune(self) -> None:
        """Close connections idle for longer than idle_seconds, the oldest first, down to min_size."""
        cutoff = time.monotonic() - self._idle_seconds
        while self._idle and self._idle[0][1] < cutoff and self.get_size() > self._min_size:
            conn = self._idle.popleft()[0]
            task = asyncio.get_running_loop().create_task(_close(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._arm()

    # -- gauges (/metrics) --------------------------------------------------------------------
    def get_size(self) -> int:
        return len(self._idle) + len(self._busy) + self._opening

    def get_idle_size(self) -> int:
        return len(self._idle)

    def get_max_size(self) -> int:
        return self._size


class _Lease:
    __slots__ = ("_pool", "_conn")

    def __init__(self, pool: RestPool):
        self._pool = pool
        self._conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> asyncpg.Connection:
        conn = self._pool._take_now()
        self._conn = conn if conn is not None else await self._pool._take()
        return self._conn

    async def __aexit__(self, *exc: Any) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool._give(conn)


def _clean(conn: asyncpg.Connection) -> bool:
    """Open, idle between statements: no transaction, no cancellation on its way."""
    protocol = conn._protocol  # asyncpg's own pool reads the same state before reusing a connection
    return not conn.is_in_transaction() and not protocol._is_cancelling() and protocol.is_connected()


async def _close(conn: asyncpg.Connection) -> None:
    try:
        await conn.close(timeout=CLOSE_TIMEOUT)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        conn.terminate()
