"""Membership: this process's row in localbase.nodes (see database/sql/50_nodes.sql), kept alive.

One connection of its own (as supabase_realtime_admin) is the member session: while it is open
and the lease (renewed every [nodes] heartbeat_seconds) runs, the process counts as alive. The
same loop cleans up after processes that are gone (reaper.py, on a short connection of its own),
one process at a time.

The member session itself only renews the lease: the row is written (with the session's backend
pid), other nodes are looked up and the slot is claimed on short connections, closed after, so
that the long-lived backend does not keep their catalog lookups (node_status, pg_stat_activity:
~3 MB of PostgreSQL memory) cached for as long as the server runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

import localbase
from localbase.nodes import reaper
from localbase.nodes.config import NodeSettings
from localbase.process import tasks, workers

log = logging.getLogger("localbase.nodes")
RECONNECT_MAX_SECONDS = 5.0

UPSERT = """
insert into localbase.nodes as n (id, node, worker, slot, host, pid, api_url, backend_pid, backend_start, keys,
                                  version, lease_until)
select $1, $2, $3, $4, $5, $6, $7, a.pid, a.backend_start, $8, $9, now() + make_interval(secs => $10)
  from pg_stat_activity a where a.pid = $11
on conflict (id) do update
   set slot = excluded.slot, backend_pid = excluded.backend_pid, backend_start = excluded.backend_start,
       seen_at = now(), lease_until = excluded.lease_until
"""
# The same node and worker before this process (killed, or stopped): this one takes its place
# (and its slot, named alike). Another live one is refused above (named nodes) or by the slot.
SUPERSEDE = "delete from localbase.nodes n using localbase.node_status s " \
            "where n.id = s.id and s.node = $1 and s.worker = $2 and not s.alive and n.id <> $3"
RENEW = """
update localbase.nodes set seen_at = now(), lease_until = now() + make_interval(secs => $2)
 where id = $1 and backend_pid = pg_backend_pid()
"""


class NodeConflict(RuntimeError):
    """Another running process already is this node (id and worker), or streams this slot."""


class Membership:
    def __init__(self, dsn: str, config: NodeSettings, *, api_url: str, keys: str, slot_prefix: str):
        self.dsn = dsn
        self.config = config
        self.worker = workers.current()
        self.api_url = api_url
        self.keys = keys
        self.slot_prefix = slot_prefix
        self.slot: str | None = None
        self.id = uuid.uuid4()
        self.host = socket.gethostname()
        self.conn: asyncpg.Connection | None = None
        self._task: asyncio.Task | None = None
        self._last_reap = 0.0
        self.stats = {"heartbeats": 0, "reconnects": 0, "slots_dropped": 0, "positions_released": 0}

    @property
    def node(self) -> str:
        return self.config.node_id

    @property
    def reap_seconds(self) -> float:
        """How often this process looks for gone nodes: a few times per lease, at most every 5 s
        (a client resuming on this node does not wait for it: retention.py releases at the join)."""
        return max(self.config.heartbeat_seconds, min(5.0, self.config.lease_seconds / 2))

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        # both at once: start-up waits for one connection, not two in turn
        opened = await asyncio.gather(self._connect(), self._connect_briefly("localbase-node-start"),
                                      return_exceptions=True)
        for failed in opened:
            if isinstance(failed, BaseException):
                for conn in opened:
                    if isinstance(conn, asyncpg.Connection):
                        conn.terminate()
                raise failed
        member: asyncpg.Connection = opened[0]
        db: asyncpg.Connection = opened[1]
        self.conn = member
        try:
            holder = await db.fetchrow(
                "select host, pid from localbase.node_status where node = $1 and worker = $2 and alive",
                self.node, self.worker.index) if self.node else None  # unnamed ones may share a database
            if holder is not None:
                await self._close()
                raise NodeConflict(f"node {self.node} worker {self.worker.index} is already running on "
                                   f"{holder['host']} (pid {holder['pid']}): give each node its own --node-id")
            await db.execute(SUPERSEDE, self.node, self.worker.index, self.id)
            await self._register(db)
        finally:
            await db.close()
        self._task = asyncio.create_task(self._beat(), name="node-heartbeat")

    async def claim_slot(self, slot: str, db: asyncpg.Connection) -> None:
        """Record that this process streams `slot` (on `db`, a connection as supabase_realtime_admin
        the caller closes after); refuse when a live process of another node streams it (two nodes
        without distinct --node-id)."""
        other = await db.fetchrow(
            "select node, worker, host, pid from localbase.node_status where slot = $1 and alive and id <> $2",
            slot, self.id)
        if other is not None:
            raise NodeConflict(f"replication slot {slot} is streamed by node {other['node'] or '(unnamed)'} worker "
                               f"{other['worker']} on {other['host']} (pid {other['pid']}): every node on one "
                               f"database needs its own --node-id")
        self.slot = slot
        await self._register(db)

    async def stop(self) -> None:
        """A clean stop ends the lease now: the row stays, so that a node that never comes back
        still has its slots dropped after [nodes] drop_slots_after_seconds."""
        await tasks.cancel(self._task)
        if self.conn is not None and not self.conn.is_closed():
            try:
                await self.conn.execute("update localbase.nodes set lease_until = now() where id = $1", self.id)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("nodes: could not end this node's lease: %s", exc)
        await self._close()

    async def _close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), 2)
            except (TimeoutError, OSError, asyncpg.InterfaceError):
                conn.terminate()

    async def _connect(self) -> asyncpg.Connection:
        # keepalives: when this host vanishes, PostgreSQL ends the member session within ~30 s
        return await asyncpg.connect(self.dsn, server_settings={
            "application_name": f"localbase-node {self.node or '-'}/{self.worker.index}",
            "tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"})

    async def _connect_briefly(self, name: str) -> asyncpg.Connection:
        return await asyncpg.connect(self.dsn, server_settings={"application_name": name})

    @asynccontextmanager
    async def _briefly(self, name: str) -> AsyncIterator[asyncpg.Connection]:
        """A short connection of its own, closed after."""
        conn = await self._connect_briefly(name)
        try:
            yield conn
        finally:
            await conn.close()

    async def _register(self, db: asyncpg.Connection) -> None:
        """Write this process's row (on `db`) naming the member session's backend."""
        assert self.conn is not None
        written = await db.execute(UPSERT, self.id, self.node, self.worker.index, self.slot, self.host, os.getpid(),
                                   self.api_url, self.keys, localbase.__version__, self.config.lease_seconds,
                                   self.conn.get_server_pid())
        if written == "INSERT 0 0":  # no such backend: the member session ended meanwhile
            raise asyncpg.InterfaceError("the member session's connection is gone")

    # -- the loop --------------------------------------------------------------------------------
    async def _beat(self) -> None:
        backoff = 0.1
        while True:
            await asyncio.sleep(self.config.heartbeat_seconds)
            try:
                if self.conn is None or self.conn.is_closed():
                    self.conn = await self._connect()
                    self.stats["reconnects"] += 1
                    async with self._briefly("localbase-node-register") as db:
                        await self._register(db)
                elif await self.conn.execute(RENEW, self.id, self.config.lease_seconds) == "UPDATE 0":
                    # our row was reaped (a long pause, or the database restarted: the table is unlogged)
                    async with self._briefly("localbase-node-register") as db:
                        await self._register(db)
                self.stats["heartbeats"] += 1
                backoff = 0.1
                await self._reap_if_due()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("nodes: heartbeat failed (%s); retrying", exc)
                if self.conn is not None:
                    self.conn.terminate()
                    self.conn = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RECONNECT_MAX_SECONDS)

    async def _reap_if_due(self) -> None:
        now = time.monotonic()
        if now - self._last_reap < self.reap_seconds:
            return
        self._last_reap = now
        # on a connection of its own, closed after: the reaper's queries (node_status, the slots)
        # would leave the member session's backend ~1.5 MB larger for as long as it lives; a
        # failure here is the reaper's (tried again next time), never the member session's
        try:
            async with self._briefly("localbase-node-reaper") as conn:
                released, dropped = await reaper.reap(conn, self.slot_prefix, self.config.drop_slots_after_seconds)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("nodes: cleaning up after stopped nodes failed (%s); retrying in %.0fs", exc,
                        self.reap_seconds)
            return
        self.stats["positions_released"] += released
        self.stats["slots_dropped"] += len(dropped)
