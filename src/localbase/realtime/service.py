"""The Realtime service: connections to PostgreSQL, and the background tasks (replication stream
-> fan-out, and the one-second checkpoint). Its settings are read by realtime/config.py.

Configuration, in supabase/config.toml under [realtime] (environment variables override):
  enabled = true
  retention_seconds = 300        LOCALBASE_REALTIME_RETENTION_SECONDS
  retention_max_changes = 100000
  max_client_queue = 2000        frames queued per socket before it is closed as too slow
  max_pending_changes = 10000    changes read ahead of fan-out before the stream pauses
  idle_timeout_seconds = 60      no frame (heartbeats included) for this long closes a socket
  slot_name = "localbase_realtime"
  max_channels_per_client = 100  channels one socket may join (Supabase's default); more are refused
                                 with "ChannelRateLimitReached: Too many channels"
  authorize_connections = 2      PostgreSQL connections (and so CPUs) sharing the RLS checks of a batch
                                 with many subscribers (authorize.py); 1 checks every batch on one
  authorize_idle_seconds = 300   with no postgres_changes subscriber for this long, the authorization
                                 connections are closed (opened again by the next subscriber)
                                 LOCALBASE_REALTIME_AUTHORIZE_IDLE_SECONDS
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from collections import defaultdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import asyncpg

from localbase.database.pool import init_connection
from localbase.process import workers
from localbase.realtime.authorize import Authorizer, init_authorize_connection
from localbase.realtime.bus import Bus
from localbase.realtime.changes import ChangeStream, drop_worker_slots, ensure_slot
from localbase.realtime.config import RealtimeConfig
from localbase.realtime.fanout import Fanout
from localbase.realtime.retention import Retention
from localbase.security.api_keys import ApiKeys
from localbase.settings import Settings, SettingsError

if TYPE_CHECKING:
    from localbase.nodes.membership import Membership

log = logging.getLogger("localbase.realtime")
ROLE = "supabase_realtime_admin"
# How often positions are written and the slot confirmed: after a kill -9, changes written to a
# socket in the last interval are delivered again on resume (at-least-once across a crash).
CHECKPOINT_SECONDS = 0.2
MESSAGES_KEPT = timedelta(days=3)
PRUNE_SECONDS = 3600.0


def slot_name(base: str, database: str) -> str:
    """Replication slots are named cluster-wide: the slot of a database other than `postgres`
    carries the database's name, so several Localbase projects can share one cluster."""
    if database == "postgres":
        return base
    return f"{base}_{re.sub(r'[^a-z0-9_]', '_', database.lower())}"[:63]


def worker_slot(base: str, index: int) -> str:
    """Worker 0 (and a single process) reads `base`; worker k of several reads `base_w<k>`."""
    return base if index == 0 else f"{base[:59]}_w{index}"


def node_slot(base: str, node: str) -> str:
    """A named node's slots are `<base>_<node>` (then `_w<k>` for its workers k >= 1): each node
    reads its own; an unnamed node keeps `base`. Never truncated (two nodes would share one)."""
    if not node:
        return base
    name = f"{base}_{node}"
    if len(name) > 60:
        raise SettingsError(f"replication slot name {name} is too long (PostgreSQL allows 63 characters, with "
                            f"room for a worker suffix): choose a shorter --node-id or [realtime] slot_name")
    return name


def realtime_dsn(settings: Settings) -> str:
    from localbase.database.cluster import Cluster
    return Cluster(settings).role_dsn(ROLE)


class Realtime:
    def __init__(self, settings: Settings, config: RealtimeConfig, membership: Membership | None = None):
        self.settings = settings
        self.membership = membership  # this process's row in localbase.nodes (nodes/membership.py)
        self.api_keys = ApiKeys.from_settings(settings)
        self.config = config
        self.dsn = realtime_dsn(settings)
        self.topics: dict[str, set] = {}  # topic -> joined channels
        self.presences: dict[str, dict] = {}  # topic -> channel -> meta
        self.connections: set = set()
        self.stats: defaultdict[str, float] = defaultdict(int)  # counters and summed milliseconds
        self._ids = itertools.count(1)
        self.pool: asyncpg.Pool | None = None
        self.authorizer: Authorizer | None = None
        self.stream: ChangeStream | None = None
        self.fanout: Fanout | None = None
        self.bus: Bus | None = None  # with several workers or nodes: broadcast and presence between them
        self._tasks: list[asyncio.Task] = []
        self.slot = config.slot_name

    def next_binding_id(self) -> int:
        return next(self._ids)

    async def _connect(self) -> asyncpg.Connection:
        """An authorization connection. It writes nothing that must survive a crash (only its own
        temporary batch tables), so its commits need not wait for the WAL flush."""
        return await asyncpg.connect(self.dsn, server_settings={
            "application_name": "localbase-realtime-authorize", "synchronous_commit": "off",
            "search_path": ", ".join(self.settings.extra_search_path) or "public"})

    @property
    def db(self) -> asyncpg.Pool:
        """The service's own pool, open once the service started."""
        if self.pool is None:
            raise RuntimeError("realtime is not started")
        return self.pool

    @property
    def changes(self) -> Fanout:
        """The postgres_changes fan-out, there once the service started."""
        if self.fanout is None:
            raise RuntimeError("realtime is not started")
        return self.fanout

    async def start(self) -> None:
        # The start-up queries (slots, positions) run on a connection of their own, closed after:
        # on the pool's long-lived connection their catalog lookups would stay cached (~3 MB of
        # PostgreSQL memory) for as long as the server runs. The pool connects on first use.
        self.pool = await asyncpg.create_pool(self.dsn, min_size=0, max_size=4, init=init_connection,
                                              server_settings={"application_name": "localbase-realtime"})
        # opened by the first postgres_changes subscriber (authorize.py), not now
        self.authorizer = Authorizer(None, self.config.authorize_connections - 1, self._authorize_connection)
        retention = Retention(self.pool, self.config.retention_seconds, self.config.retention_max_changes)
        db = await asyncpg.connect(self.dsn, server_settings={"application_name": "localbase-realtime-start"})
        try:
            await self._claim_slot(db, retention)
        finally:
            await db.close()
        self.stream = ChangeStream(self.dsn, self.slot, max_pending=self.config.max_pending,
                                   on_relation=self.authorizer.forget, on_ddl=self.authorizer.forget)
        self.fanout = Fanout(self, self.authorizer, retention, self.stream)
        await self.stream.start()
        worker = workers.current()
        if worker.several or self.settings.nodes.named:
            self.bus = Bus(self, self.dsn)
            await self.bus.start()
        self._tasks = [asyncio.create_task(self._guard(self.fanout.run, "fan-out")),
                       asyncio.create_task(self._guard(self._checkpoints, "checkpoint"))]
        if worker.first:
            self._tasks.append(asyncio.create_task(self._guard(self._prune_messages, "message pruning")))

    async def _claim_slot(self, db: asyncpg.Connection, retention: Retention) -> None:
        """This worker's replication slot (created on first start), recorded as this node's; the
        slots of workers that no longer run dropped; positions left connected marked not."""
        worker = workers.current()
        base = node_slot(slot_name(self.config.slot_name, await db.fetchval("select current_database()")),
                         self.settings.nodes.node_id)
        self.slot = worker_slot(base, worker.index)
        if self.membership is not None:  # refused when another live node streams this slot
            await self.membership.claim_slot(self.slot, db)
        gone: list[str] = []
        if worker.first:  # positions recorded before owners existed ('') are released here too
            gone = [*await drop_worker_slots(db, base, worker.count), ""]
        slot_lsn = await ensure_slot(db, self.slot)
        retention.owner = self.slot
        await retention.start(db, slot_lsn, gone)

    async def _authorize_connection(self) -> asyncpg.Connection:
        conn = await self._connect()
        try:
            await init_authorize_connection(conn)
        except BaseException:
            conn.terminate()
            raise
        return conn

    def reconnect_authorizer(self) -> None:
        """The authorization connection was lost: the next check opens a new one."""
        if self.authorizer is not None:
            self.authorizer.drop()

    async def _guard(self, fn, name: str) -> None:
        """Run a background loop; if it dies, log why and start it again (never silently)."""
        while True:
            try:
                await fn()
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - logged, counted, restarted
                self.stats[f"{name}_restarts"] += 1
                log.exception("realtime: the %s task failed; restarting it", name)
                await asyncio.sleep(0.5)

    async def _checkpoints(self) -> None:
        while True:
            await asyncio.sleep(CHECKPOINT_SECONDS)
            try:
                await self.fanout.checkpoint()  # type: ignore[union-attr]
                await self.fanout.close_idle_authorizer(self.config.authorize_idle_seconds)  # type: ignore[union-attr]
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("realtime: checkpoint failed (will retry): %s", exc)

    async def _prune_messages(self) -> None:
        """realtime.send()'s messages are kept MESSAGES_KEPT (as Supabase keeps its daily
        partitions a few days), then deleted."""
        while True:
            try:
                async with self.db.acquire() as db:
                    await db.execute("delete from realtime.messages where inserted_at < now() - $1::interval",
                                     MESSAGES_KEPT)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("realtime: pruning old messages failed (will retry): %s", exc)
            await asyncio.sleep(PRUNE_SECONDS)

    async def stop(self) -> None:
        for conn in list(self.connections):
            conn.close(1001)
        for _ in range(100):  # let the sockets record their positions
            if not self.connections:
                break
            await asyncio.sleep(0.02)
        if self.bus is not None:
            await self.bus.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        if self.fanout is not None:
            try:
                await self.fanout.checkpoint()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("realtime: final checkpoint failed: %s", exc)
        if self.stream is not None:
            await self.stream.stop()
        if self.authorizer is not None:
            await self.authorizer.close()
        if self.pool is not None:
            await self.pool.close()

    def snapshot(self) -> dict[str, Any]:
        queued = [c.queue.qsize() for c in self.connections]
        return {
            "connections": len(self.connections),
            "channels": sum(len(c.channels) for c in self.connections),
            "postgres_changes_subscriptions": len(self.fanout.live) if self.fanout else 0,
            "queued_frames": sum(queued), "largest_queue": max(queued, default=0),
            "client_queue_limit": self.config.max_queue,
            "pending_changes": self.stream.pending_changes if self.stream else 0,
            "stream_paused": bool(self.stream and self.stream.paused),
            "retained_changes": len(self.fanout.retention.buffer) if self.fanout else 0,
            "bus_peers": len(self.bus.peers) if self.bus else 0,
            "confirmed_lsn": self.stream.flush_lsn if self.stream else 0,
            **(self.stream.stats if self.stream else {}),
            **(self.authorizer.stats if self.authorizer else {}),
            **self.stats,
        }
