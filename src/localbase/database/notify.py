"""A LISTEN/NOTIFY channel between the processes (workers, nodes) of one deployment: one
connection that listens and reconnects with backoff, and a sender that batches what is queued
into one `pg_notify` round trip. Used by the Realtime bus (broadcast, presence) and by the read
replicas' read-your-writes marks.

Delivery is at most once: what is queued while there is no connection, or beyond `max_outbox`, is
dropped and counted (`<name>_dropped`); the users make up for it (the bus with a hello after each
reconnect). PostgreSQL caps a payload below 8000 bytes: the caller sends smaller items.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, MutableMapping
from typing import Any

import asyncpg

from localbase.process import tasks

log = logging.getLogger("localbase.database")
SEND = "select pg_notify($1, p) from unnest($2::text[]) as p"
RECONNECT_MAX_SECONDS = 5.0


class NotifyChannel:
    def __init__(self, dsn: str, channel: str, on_message: Callable[[str], None], *, name: str,
                 application_name: str, stats: MutableMapping[str, Any], on_connect: Callable[[], None] | None = None,
                 max_outbox: int = 10_000, batch: int = 200):
        self.dsn = dsn
        self.channel = channel
        self.on_message = on_message
        self.on_connect = on_connect
        self.name = name  # for logs and counters (`<name>_dropped`)
        self.application_name = application_name
        self.stats = stats
        self.max_outbox = max_outbox
        self.batch = batch
        self.conn: asyncpg.Connection | None = None
        self.outbox: deque[str] = deque()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    @property
    def connected(self) -> bool:
        return self.conn is not None

    async def start(self, wait: float = 10.0) -> bool:
        """Start listening; True once connected (False: still trying after `wait` seconds)."""
        connected = asyncio.Event()
        self._tasks = [asyncio.create_task(self._connection(connected), name=self.name),
                       asyncio.create_task(self._sender(), name=f"{self.name}-sender")]
        try:
            await asyncio.wait_for(connected.wait(), wait)
            return True
        except TimeoutError:
            return False

    async def stop(self, drain: float = 2.0) -> None:
        """Send what is queued (for up to `drain` seconds), then disconnect."""
        deadline = time.monotonic() + drain
        while self.outbox and self.conn is not None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for task in self._tasks:
            await tasks.cancel(task)
        if self.conn is not None:
            self.conn.terminate()
            self.conn = None

    def room(self, items: int) -> bool:
        """Whether `items` more fit now (connected, and the outbox not full)."""
        return self.conn is not None and len(self.outbox) + items <= self.max_outbox

    def send(self, items: list[str]) -> bool:
        """Queue `items` (one notification each), in order; False (and counted) when dropped."""
        if not self.room(len(items)):
            self.stats[f"{self.name}_dropped"] += 1
            return False
        self.outbox.extend(items)
        self._wake.set()
        return True

    async def _connection(self, connected: asyncio.Event) -> None:
        backoff = 0.1
        while True:
            lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(self.dsn, server_settings={"application_name": self.application_name})
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("%s: cannot connect (%s); retrying in %.1fs", self.name, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RECONNECT_MAX_SECONDS)
                continue
            try:
                conn.add_termination_listener(lambda _c, done=lost: done.set())
                await conn.add_listener(self.channel, lambda _c, _pid, _ch, payload: self.on_message(payload))
                self.conn = conn
                backoff = 0.1
                if self.on_connect is not None:
                    self.on_connect()
                connected.set()
                await lost.wait()
                log.warning("%s: lost the database; reconnecting", self.name)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("%s: connection failed (%s); reconnecting", self.name, exc)
            finally:
                self.conn = None
                conn.terminate()
            await asyncio.sleep(backoff)

    async def _sender(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.outbox and self.conn is not None:
                batch = [self.outbox.popleft() for _ in range(min(self.batch, len(self.outbox)))]
                try:
                    await self.conn.execute(SEND, self.channel, batch)
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    self.stats[f"{self.name}_dropped"] += len(batch)
                    log.warning("%s: sending failed (%s); %d notification(s) dropped", self.name, exc, len(batch))
                    break
