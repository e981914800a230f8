"""One connection that LISTENs for every channel the server's services wait on.

REST's schema cache waits on `pgrst` (NOTIFY pgrst, 'reload schema') and pg_net's sender on its
wake-ups; each used to hold a connection of its own for it, and an idle PostgreSQL backend is
~2 MB of an idle server. Here one connection listens for all of them:

- `await listener.listen(channel, on_message, on_connect)` adds a channel (LISTEN at once when
  connected) and returns a coroutine function that removes it; `on_message(payload)` is called for
  every notification, `on_connect(again)` whenever the connection starts listening for it, with
  `again` True after a reconnection (what was notified meanwhile is lost: the owner catches up);
- the connection is opened with the first channel and, when it is lost, opened again with backoff
  (0.1 s doubling to 5 s), every channel listened for again;
- `stop()` closes it.

LISTEN needs no privilege, so whose connection this is only matters to pg_hba."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from localbase.process import tasks

log = logging.getLogger("localbase.database")
BACKOFF_FIRST, BACKOFF_MAX = 0.1, 5.0
ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


class _Subscription:
    __slots__ = ("on_message", "on_connect")

    def __init__(self, on_message: Callable[[str], None], on_connect: Callable[[bool], None] | None):
        self.on_message = on_message
        self.on_connect = on_connect


class Listener:
    def __init__(self, dsn: str, application_name: str = "localbase-listener"):
        self.dsn = dsn
        self.application_name = application_name
        self._channels: dict[str, list[_Subscription]] = {}
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()  # LISTEN/UNLISTEN and (re)connecting, one at a time

    async def listen(self, channel: str, on_message: Callable[[str], None],
                     on_connect: Callable[[bool], None] | None = None) -> Callable[[], Awaitable[None]]:
        sub = _Subscription(on_message, on_connect)
        async with self._lock:
            first = channel not in self._channels
            self._channels.setdefault(channel, []).append(sub)
            conn = self._conn
            if conn is not None and not conn.is_closed():
                if first:
                    await conn.add_listener(channel, self._dispatch)
                if on_connect is not None:
                    on_connect(False)  # (raises to the caller: it is the caller's own callback)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="localbase-listener")

        async def remove() -> None:
            async with self._lock:
                subs = self._channels.get(channel, [])
                if sub in subs:
                    subs.remove(sub)
                if not subs and channel in self._channels:
                    del self._channels[channel]
                    if self._conn is not None and not self._conn.is_closed():
                        try:
                            await self._conn.remove_listener(channel, self._dispatch)
                        except ERRORS as exc:  # the connection is going: nothing is listened for there
                            log.debug("unlisten %s: %s", channel, exc)
        return remove

    async def stop(self) -> None:
        await tasks.cancel(self._task)
        self._task = None
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), 5)
            except (*ERRORS, TimeoutError):
                conn.terminate()

    def _dispatch(self, _conn, _pid: int, channel: str, payload: str) -> None:
        for sub in list(self._channels.get(channel, ())):
            try:
                sub.on_message(payload)
            except Exception:  # noqa: BLE001 - one service's failure must not silence the others
                log.exception("a listener of channel %s failed", channel)

    async def _run(self) -> None:
        backoff, again = BACKOFF_FIRST, False
        while True:
            lost = asyncio.Event()
            conn = None
            try:
                async with self._lock:
                    conn = await asyncpg.connect(self.dsn, server_settings={"application_name": self.application_name})
                    conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                    for channel in self._channels:
                        await conn.add_listener(channel, self._dispatch)
                    self._conn = conn
                    self._connected(again)
                backoff = BACKOFF_FIRST
                await lost.wait()
                log.warning("the listening connection was lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except ERRORS as exc:
                log.warning("cannot listen for notifications (%s); retrying in %.1fs", exc, backoff)
            finally:
                if conn is not None and self._conn is not conn:  # opened, but not listening yet
                    conn.terminate()
            if self._conn is not None:
                self._conn.terminate()
                self._conn = None
            again = True
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    def _connected(self, again: bool) -> None:
        for subs in self._channels.values():
            for sub in subs:
                if sub.on_connect is not None:
                    try:
                        sub.on_connect(again)
                    except Exception:  # noqa: BLE001 - as in _dispatch
                        log.exception("a listener's on_connect failed")
