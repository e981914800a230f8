"""Changes stage: committed changes of the tables in publication `supabase_realtime`, in commit
order, from a persistent logical replication slot streamed over the replication protocol.

Why streaming (psycopg2's LogicalReplicationConnection) rather than polling
`pg_logical_slot_get_binary_changes()` with asyncpg: the walsender pushes a transaction the
moment its commit is flushed (no polling interval in the latency, no decoding context rebuilt
per poll), and the slot's confirmed position moves only when we send feedback, which we do only
up to what every subscriber has been given or has a recorded position for (retention.py). After
a crash or a restart PostgreSQL resends everything after the confirmed position; transactions
already handled in this process are skipped by LSN.

Backpressure towards the database: when more than `max_pending` row changes wait for fan-out we
stop reading the socket; PostgreSQL then keeps the WAL (the slot holds it), nothing is dropped,
and reading resumes when fan-out has caught up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import psycopg2
import psycopg2.errors
import psycopg2.extras

from localbase.process import tasks
from localbase.realtime.pgoutput import DecodeError, Decoder, Transaction

log = logging.getLogger("localbase.realtime")

PUBLICATION = "supabase_realtime"
# realtime.messages' inserts: broadcasts sent from the database (realtime.send), not row changes
MESSAGES_PUBLICATION = "localbase_realtime_messages"


def lsn_text(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


class ChangeStream:
    """Also read by the Kafka bridge (bridge/producer.py), on a slot and publication of its own."""

    def __init__(self, dsn: str, slot: str, *, max_pending: int = 10_000,
                 on_relation: Callable[[int], None] | None = None, on_ddl: Callable[[], None] | None = None,
                 publications: tuple[str, ...] = (PUBLICATION, MESSAGES_PUBLICATION),
                 application_name: str = "localbase-realtime"):
        self.dsn = dsn
        self.slot = slot
        self.publications = publications
        self.application_name = application_name
        self.max_pending = max_pending
        self.on_relation = on_relation
        self.on_ddl = on_ddl
        self.queue: asyncio.Queue[Transaction] = asyncio.Queue()
        self.pending_changes = 0
        self.paused = False
        self.last_end_lsn = 0  # end of the last transaction handed out by this process
        self.flush_lsn = 0  # what we may confirm (set by retention)
        self.stats = {"transactions": 0, "changes": 0, "skipped_resent": 0, "reconnects": 0, "paused": 0}
        self._conn = None
        self._cur = None
        self._fd = -1  # the connection's socket, kept: fileno() raises once psycopg2 saw it close
        self._decoder = Decoder()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._closing = False
        self._lost: asyncio.Event = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._connect()
        self._task = asyncio.create_task(self._supervise(), name=f"{self.application_name}-changes")

    async def stop(self) -> None:
        self._closing = True
        await tasks.cancel(self._task)
        self._disconnect()

    async def _supervise(self) -> None:
        """Reconnect with backoff whenever the stream is lost (database restart, network)."""
        delay = 0.2
        while not self._closing:
            await self._lost.wait()
            self._lost.clear()
            self._disconnect()
            while not self._closing:
                try:
                    await self._connect()
                    self.stats["reconnects"] += 1
                    delay = 0.2
                    break
                except (psycopg2.Error, OSError) as exc:
                    log.warning("realtime: replication stream unavailable (%s); retrying in %.1fs", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)

    async def _connect(self) -> None:
        conn, cur = await asyncio.to_thread(self._open)
        self._conn, self._cur, self._fd = conn, cur, conn.fileno()
        self._decoder = Decoder()
        self._decoder.on_relation = self.on_relation
        self._decoder.on_ddl = self.on_ddl
        self.paused = False
        self._loop.add_reader(self._fd, self._on_readable)  # type: ignore[union-attr]
        log.info("%s: streaming slot %s", self.application_name, self.slot)

    def _open(self):
        conn = psycopg2.connect(self.dsn, connection_factory=psycopg2.extras.LogicalReplicationConnection,
                                application_name=self.application_name)
        cur = conn.cursor()
        # messages: DDL's logical messages (realtime.announce_ddl), so caches forget in commit order
        options = {"proto_version": "1", "publication_names": ",".join(self.publications), "messages": "true"}
        try:
            cur.start_replication(slot_name=self.slot, decode=False, status_interval=5, options=options)
        except psycopg2.errors.UndefinedObject:  # dropped under us (`localbase db reset`): re-create it
            log.warning("realtime: replication slot %s is gone; creating it again", self.slot)
            cur.create_replication_slot(self.slot, output_plugin="pgoutput")
            cur.start_replication(slot_name=self.slot, decode=False, status_interval=5, options=options)
        return conn, cur

    def _disconnect(self) -> None:
        conn, self._conn, self._cur = self._conn, None, None
        if conn is None:
            return
        self._pause_reader(conn)
        self._fd = -1
        try:
            conn.close()
        except psycopg2.Error:
            pass

    # -- reading -------------------------------------------------------------------------------
    def _on_readable(self) -> None:
        cur = self._cur
        if cur is None:
            return
        try:
            while not self.paused:
                msg = cur.read_message()
                if msg is None:
                    break
                txn = self._decoder.feed(msg.payload)
                if txn is not None:
                    self._hand_out(txn)
        except (psycopg2.Error, OSError) as exc:
            if not self._closing:
                log.warning("realtime: replication stream lost: %s", exc)
                self._pause_reader()
                self._lost.set()
        except DecodeError:
            log.exception("realtime: cannot decode the replication stream; reconnecting")
            self._pause_reader()
            self._lost.set()

    def _hand_out(self, txn: Transaction) -> None:
        if txn.end_lsn <= self.last_end_lsn:
            self.stats["skipped_resent"] += 1  # resent after a reconnect: handled already
            return
        self.last_end_lsn = txn.end_lsn
        self.stats["transactions"] += 1
        if not txn.changes:
            return
        self.stats["changes"] += len(txn.changes)
        self.pending_changes += len(txn.changes)
        self.queue.put_nowait(txn)
        if self.pending_changes > self.max_pending and not self.paused:
            self.paused = True
            self.stats["paused"] += 1
            self._pause_reader()
            log.warning("realtime: %d changes wait for fan-out; pausing the replication stream",
                        self.pending_changes)

    def _pause_reader(self, conn=None) -> None:
        if (conn or self._conn) is not None and self._fd >= 0:
            try:
                self._loop.remove_reader(self._fd)  # type: ignore[union-attr]
            except (ValueError, OSError):
                pass

    def done(self, txn: Transaction) -> None:
        """Fan-out finished with `txn`; resume reading when the backlog is down to half."""
        self.pending_changes -= len(txn.changes)
        if self.paused and self.pending_changes <= self.max_pending // 2 and self._conn is not None:
            self.paused = False
            self._loop.add_reader(self._fd, self._on_readable)
            self._loop.call_soon(self._on_readable)

    @property
    def idle_lsn(self) -> int:
        """When nothing is pending: the server's WAL end we have been told about (keepalives), so
        that an idle slot does not hold WAL written for tables outside the publication."""
        if self._cur is None or self.pending_changes or self._decoder.current is not None:
            return 0
        return self._cur.wal_end or 0

    @property
    def wal_end(self) -> int:
        """The server's WAL end as last reported on the stream (0 when not connected)."""
        return (self._cur.wal_end or 0) if self._cur is not None else 0

    def send_feedback(self, flush_lsn: int) -> None:
        """Confirm up to `flush_lsn` (never beyond what retention allows; PostgreSQL ignores a
        position lower than the one already confirmed)."""
        if self._cur is None or flush_lsn <= 0:
            return
        try:
            self._cur.send_feedback(write_lsn=flush_lsn, flush_lsn=flush_lsn, reply=False, force=True)
            self.flush_lsn = flush_lsn
        except (psycopg2.Error, OSError) as exc:
            log.warning("realtime: feedback to the replication slot failed: %s", exc)
            self._lost.set()


async def drop_worker_slots(conn, base: str, keep: int) -> list[str]:
    """Drop the slots `<base>_w<k>` of workers k >= `keep` (a deployment that ran more workers
    before): an unread slot would hold back the WAL forever. Returns the names dropped."""
    rows = await conn.fetch(
        "select slot_name from pg_replication_slots where database = current_database() and not active "
        "and starts_with(slot_name, $1 || '_w') and substr(slot_name, length($1) + 3) ~ '^[0-9]{1,4}$' "
        "and substr(slot_name, length($1) + 3)::int >= $2", base[:59], keep)
    for row in rows:
        await conn.execute("select pg_drop_replication_slot($1)", row["slot_name"])
        log.info("realtime: dropped replication slot %s (no worker %s any more)", row["slot_name"],
                 row["slot_name"].rsplit("_w", 1)[1])
    return [r["slot_name"] for r in rows]


async def ensure_slot(conn, slot: str) -> int:
    """Create the persistent slot on first start; returns its confirmed position."""
    row = await conn.fetchrow(
        "select confirmed_flush_lsn::text as lsn, plugin, database = current_database() as ours "
        "from pg_replication_slots where slot_name = $1", slot)
    if row is not None and not row["ours"]:
        raise RuntimeError(f"replication slot {slot} belongs to another database of this cluster; "
                           f"set [realtime] slot_name in config.toml to another name")
    if row is None:
        started = time.perf_counter()
        row = await conn.fetchrow(
            "select lsn::text as lsn, 'pgoutput' as plugin from pg_create_logical_replication_slot($1, 'pgoutput')",
            slot)
        log.info("realtime: created replication slot %s in %.0f ms", slot, (time.perf_counter() - started) * 1000)
    elif row["plugin"] != "pgoutput":
        raise RuntimeError(f"replication slot {slot} exists with plugin {row['plugin']}, expected pgoutput")
    return parse_lsn(row["lsn"])
