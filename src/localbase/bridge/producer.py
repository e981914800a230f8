"""Database -> Kafka: committed changes of the published tables, from a replication slot of the
bridge's own (`localbase_kafka`), produced to their topics in commit order.

No acknowledged commit is lost: the slot's confirmed position moves only past transactions whose
every message the broker acknowledged (acks=all), in commit order. Any produce failure (broker
down, topic gone, timeout) ends the session: the producer and the stream are closed, and after a
backoff a new session streams again from the confirmed position - so what was in flight is sent
again, in the same order. A message may therefore arrive twice (after a broker outage or a kill -9
of Localbase), always with the same `lsn` and `seq` headers: consumers drop what they have seen.

Each message: value = the JSON Realtime delivers (realtime/payload.py), key = the route's key
columns (the primary key by default) - one column as its text, several as a JSON object - so one
row's changes stay in one partition, in order; headers lsn (the commit LSN), seq (the change's
index in its transaction), table, type.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from typing import Any

import asyncpg
import orjson

from localbase.bridge import kafka
from localbase.bridge.config import KafkaConfig
from localbase.database.pool import init_connection
from localbase.realtime.changes import ChangeStream, ensure_slot, lsn_text
from localbase.realtime.payload import change_data
from localbase.realtime.pgoutput import Transaction

log = logging.getLogger("localbase.bridge")
APPLICATION = "localbase-kafka"
FEEDBACK_SECONDS = 0.2
BATCH = 500  # transactions typed in one query
BACKOFF_MAX = 10.0

TYPED = """
select realtime.typed(t.relid, t.new) as record, realtime.typed(t.relid, t.old) as old_record
  from unnest($1::oid[], $2::jsonb[], $3::jsonb[]) with ordinality as t(relid, new, old, i) order by t.i
"""
SHAPE = """
select coalesce(jsonb_agg(jsonb_build_object('name', a.attname, 'type', t.typname) order by a.attnum), '[]')
         as columns,
       coalesce(array_agg(a.attname::text order by array_position(i.indkey::int2[], a.attnum))
                  filter (where i.indrelid is not null), '{}') as primary_key
  from pg_attribute a
  join pg_type t on t.oid = a.atttypid
  left join pg_index i on i.indrelid = a.attrelid and i.indisprimary and a.attnum = any(i.indkey)
 where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped
"""


def message_key(columns: tuple[str, ...] | list[str], image: dict[str, Any] | None) -> bytes | None:
    """One column: its value as text; several: a JSON object of them; None when the image lacks them."""
    if not columns or not image or any(c not in image for c in columns):
        return None
    if len(columns) == 1:
        value = image[columns[0]]
        return None if value is None else (value if isinstance(value, str) else orjson.dumps(value).decode()).encode()
    return orjson.dumps({c: image[c] for c in columns})


class ChangeProducer:
    def __init__(self, config: KafkaConfig, dsn: str, slot: str, max_pending: int = 10_000):
        self.config = config
        self.dsn = dsn
        self.slot = slot
        self.max_pending = max_pending
        self.stats: Counter[str] = Counter()
        self.confirmed_lsn = 0
        self.wal_end = 0
        self.oldest_unacked: float | None = None  # commit time (epoch) of the oldest transaction in flight
        self.last_error: str | None = None
        self._shapes: dict[int, tuple[list, list[str]]] = {}
        self._topics: set[str] = set()
        self._failure: BaseException | None = None  # the first failed send of this session

    # -- the supervised loop ---------------------------------------------------------------------
    async def run(self) -> None:
        backoff = 0.5
        while True:
            started = time.monotonic()
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: stop, then stream again from the confirmed position
                self.stats["sessions_failed"] += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                if time.monotonic() - started > 30:
                    backoff = 0.5
                log.warning("bridge: producing to Kafka stopped (%s); resuming from %s in %.1fs",
                            self.last_error, lsn_text(self.confirmed_lsn), backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)

    @property
    def lag_bytes(self) -> int:
        return max(0, self.wal_end - self.confirmed_lsn) if self.confirmed_lsn else 0

    async def _session(self) -> None:
        conn = await asyncpg.connect(self.dsn, server_settings={"application_name": APPLICATION})
        stream = None
        producer = None
        try:
            await init_connection(conn)
            self.confirmed_lsn = max(self.confirmed_lsn, await ensure_slot(conn, self.slot))
            self._shapes.clear()
            self._topics = set()
            self._failure = None
            await self._ensure_topics({r.topic for r in self.config.tables.values() if "{" not in r.topic})
            producer = kafka.producer(self.config, linger_ms=2)
            await producer.start()
            stream = ChangeStream(self.dsn, self.slot, max_pending=self.max_pending,
                                  on_relation=self._forget_shape, on_ddl=self._shapes.clear,
                                  publications=(self.config.publication,), application_name=APPLICATION)
            await stream.start()
            log.info("bridge: producing changes of publication %s to Kafka from %s", self.config.publication,
                     lsn_text(self.confirmed_lsn))
            await self._pump(conn, stream, producer)
        finally:
            if stream is not None:
                await stream.stop()
            if producer is not None:
                kafka.abort(producer)  # whatever is still queued is sent again, in order, by the next session
                try:
                    await asyncio.wait_for(producer.stop(), 5)
                except (TimeoutError, Exception) as exc:  # noqa: BLE001 - a dead broker: nothing left to flush
                    log.debug("bridge: closing the producer: %s", exc)
            await conn.close(timeout=5)

    async def _pump(self, conn: asyncpg.Connection, stream: ChangeStream, producer) -> None:
        inflight: deque[tuple[Transaction, list[asyncio.Future]]] = deque()
        last_feedback = 0.0
        while True:
            try:
                txn = await asyncio.wait_for(stream.queue.get(), FEEDBACK_SECONDS / 4)
            except TimeoutError:
                txn = None
            if txn is not None:
                txns = [txn]
                while len(txns) < BATCH and not stream.queue.empty():  # one typing round trip for many
                    txns.append(stream.queue.get_nowait())
                for done_txn, futures in zip(txns, await self._produce(conn, producer, txns), strict=True):
                    inflight.append((done_txn, futures))
                if self.oldest_unacked is None:
                    self.oldest_unacked = txn.commit_time.timestamp()
            while inflight and all(f.done() for f in inflight[0][1]):
                done, futures = inflight.popleft()
                for future in futures:
                    future.result()  # a failed send raises here: the session ends, nothing is confirmed past it
                self.stats["produced"] += len(futures)
                self.stats["transactions"] += 1
                stream.done(done)
                self.confirmed_lsn = max(self.confirmed_lsn, done.end_lsn)
                self.oldest_unacked = inflight[0][0].commit_time.timestamp() if inflight else None
            if self._failure is not None:  # a later transaction's send failed: end the session now
                raise self._failure
            now = time.monotonic()
            if now - last_feedback >= FEEDBACK_SECONDS:
                last_feedback = now
                idle = stream.idle_lsn if not inflight and stream.queue.empty() else 0
                flush = max(self.confirmed_lsn, idle)
                stream.send_feedback(flush)
                self.confirmed_lsn = flush
                self.wal_end = max(self.wal_end, idle, stream.wal_end)

    async def _produce(self, conn: asyncpg.Connection, producer, txns: list[Transaction]) -> list[list[asyncio.Future]]:
        """Send every routed change of `txns`, in order; one list of futures per transaction."""
        routed = [(t, c, r) for t in txns for c in t.changes
                  if (r := self.config.route(c.relation.schema, c.relation.table))]
        sent: dict[int, list[asyncio.Future]] = {id(t): [] for t in txns}
        if routed:
            typed = await conn.fetch(TYPED, [c.relation.relid for _, c, _ in routed], [c.new for _, c, _ in routed],
                                     [c.old for _, c, _ in routed])
            for (txn, change, route), row in zip(routed, typed, strict=True):
                sent[id(txn)].append(await self._send(conn, producer, txn, change, route, row))
        return [sent[id(t)] for t in txns]

    async def _send(self, conn: asyncpg.Connection, producer, txn: Transaction, change, route, row) -> asyncio.Future:
        columns, primary_key = await self._shape(conn, change.relation.relid)
        record, old_record = row["record"], row["old_record"]
        topic = route.topic_for(change.relation.schema, change.relation.table)
        await self._ensure_topics({topic})
        value = orjson.dumps(change_data(txn, change, columns, record, old_record))
        key = message_key(route.key or primary_key, record if change.kind != "DELETE" else old_record)
        headers = [("lsn", lsn_text(txn.commit_lsn).encode()), ("seq", str(change.seq).encode()),
                   ("table", f"{change.relation.schema}.{change.relation.table}".encode()),
                   ("type", change.kind.encode())]
        future = await producer.send(topic, value=value, key=key, headers=headers)
        kafka.abort_on_failure(producer, future, self._failed)
        return future

    def _forget_shape(self, relid: int) -> None:
        """The stream announced the relation (again): its columns or key may have changed."""
        self._shapes.pop(relid, None)

    def _failed(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc

    async def _shape(self, conn: asyncpg.Connection, relid: int) -> tuple[list, list[str]]:
        shape = self._shapes.get(relid)
        if shape is None:
            row = await conn.fetchrow(SHAPE, relid)
            shape = self._shapes[relid] = (row["columns"], list(row["primary_key"]))
        return shape

    async def _ensure_topics(self, topics: set[str]) -> None:
        missing = topics - self._topics
        if missing:
            await kafka.ensure_topics(self.config, missing)
            self._topics |= missing
