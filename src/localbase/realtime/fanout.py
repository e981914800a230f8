"""Fan-out stage: committed row changes, in commit order, to the channels whose bindings match
them and whose subscriber PostgreSQL allows to see them (authorize.py), once per channel.

- One task consumes transactions in commit order, in batches: whatever waits when it is free
  (up to MAX_BATCH row changes; nothing is held back to fill a batch, so an idle server answers
  one change at once). Per table in the batch, one authorization query for all its changes and
  all the interested (role, claims) contexts and filter lists; then, change by change in commit
  order, one frame per channel (serialized once per role) put on each socket's bounded queue
  without waiting: a slow socket never holds up the others or the database.
- "Once per subscription": each channel remembers the last position (commit LSN, row index) it
  was considered for; a change at or before it is never given again (replays, resends).
- `claim` gives a joining channel its position (a resumed subscription's recorded one, or the
  WAL position at its join, taken before the join reply); `activate` registers it after first
  replaying the retained changes after that position.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import asyncpg
import orjson

from localbase.database.pool import UNAVAILABLE
from localbase.realtime import broadcast
from localbase.realtime import private as private_channels
from localbase.realtime.authorize import Verdict
from localbase.realtime.batch import Audiences, Batch
from localbase.realtime.channels import Channel
from localbase.realtime.payload import change_data
from localbase.realtime.pgoutput import RowChange, Transaction
from localbase.realtime.retention import SEQ_END, Gap, Retention

if TYPE_CHECKING:
    from localbase.realtime.authorize import Authorizer, Shape
    from localbase.realtime.changes import ChangeStream
    from localbase.realtime.service import Realtime

log = logging.getLogger("localbase.realtime")
MAX_BATCH = 500  # row changes authorized together, at most
# the authorization connection is gone (an outage, or its backend was terminated): connect again
# and check the same changes, instead of counting them as refused
LOST = (asyncpg.InterfaceError, *UNAVAILABLE)


def _is_message(change: RowChange) -> bool:
    rel = change.relation
    return rel.table == "messages" and rel.schema == "realtime"


class Fanout:
    def __init__(self, service: Realtime, authorizer: Authorizer, retention: Retention,
                 stream: ChangeStream):
        self.service = service
        self.authorizer = authorizer
        self.retention = retention
        self.stream = stream
        self.lock = asyncio.Lock()
        self.by_relid: dict[int, set[Channel]] = {}
        self.by_schema: dict[str, set[Channel]] = {}
        self.live: set[Channel] = set()
        self.audiences = Audiences()  # who listens to each table, kept while nobody joins or leaves
        self.processed: tuple[int, int] = (0, -1)
        self.processed_end_lsn = 0
        self.stats = service.stats

    # -- the consumer --------------------------------------------------------------------------
    async def run(self) -> None:
        queue = self.stream.queue
        while True:
            txns = [await queue.get()]
            size = len(txns[0].changes)
            while size < MAX_BATCH and not queue.empty():
                txns.append(queue.get_nowait())
                size += len(txns[-1].changes)
            stats = self.stats
            started = time.time()
            for txn in txns:
                stats["stream_lag_ms"] += (started - txn.commit_time.timestamp()) * 1000 * len(txn.changes)
            stats["fanout_batches"] += 1
            try:
                async with self.lock:
                    items = []
                    for txn in txns:
                        for change in txn.changes:
                            if not _is_message(change):
                                self.retention.add(txn, change)
                            items.append((txn, change))
                    await self._deliver(items)
                    stats["fanout_ms"] += (time.time() - started) * 1000
                    self.processed = (txns[-1].commit_lsn, SEQ_END)
                    self.processed_end_lsn = txns[-1].end_lsn
            finally:
                for txn in txns:
                    self.stream.done(txn)

    def _broadcast_message(self, txn: Transaction, change: RowChange) -> None:
        """A message realtime.send() committed: to its topic's private or public channel, on this
        worker (every worker reads its own slot, so the bus is not needed)."""
        row = change.new or {}
        if change.kind != "INSERT" or row.get("extension") != "broadcast" or not row.get("topic"):
            return
        payload = row.get("payload")
        if isinstance(payload, str):
            payload = orjson.loads(payload)
        private = row.get("private") in (True, "t", "true")
        broadcast.deliver(self.service, private_channels.route("realtime:" + row["topic"], private),
                          {"type": "broadcast", "event": row.get("event"), "payload": payload}, xid=txn.xid)
        self.stats["database_broadcasts"] += 1

    def _candidates(self, rel) -> set[Channel]:
        found = set(self.by_relid.get(rel.relid, ()))
        found.update(self.by_schema.get(rel.schema, ()))
        found.update(self.by_schema.get("*", ()))
        return found

    async def _deliver(self, items: list[tuple[Transaction, RowChange]], only: list[Channel] | None = None) -> None:
        """Authorize `items` (in commit order) table by table, then send them in commit order;
        `only`: to these channels (a replay), instead of every channel bound to the table."""
        groups: dict[int, Batch] = {}
        for index, (txn, change) in enumerate(items):
            if _is_message(change):
                continue
            rel = change.relation
            group = groups.get(rel.relid)
            if group is None:
                group = groups[rel.relid] = Batch(rel, self._candidates(rel), self.audiences) if only is None \
                    else Batch(rel, only)
            group.add(index, txn, change)
        sends: list[list[tuple[Channel, bytes]]] = [[] for _ in items]
        for group in groups.values():
            if group.listen():
                began = time.perf_counter()
                evaluated = await self._evaluate(group)
                self.stats["authorize_ms"] += (time.perf_counter() - began) * 1000
                if evaluated is not None:
                    group.frames(*evaluated, sends, self._data)
        for index, (txn, change) in enumerate(items):
            if _is_message(change):  # realtime.send(): a broadcast, not a row change
                self._broadcast_message(txn, change)
                continue
            position = (txn.commit_lsn, change.seq)
            for ch, payload in sends[index]:
                conn = ch.conn
                ch.pending += 1
                if conn.send(conn.frame_raw(ch.topic_json, b"postgres_changes", payload), ch, position):
                    self.stats["changes_delivered"] += 1
                else:
                    ch.pending -= 1
        for group in groups.values():
            group.considered()

    @staticmethod
    def _data(txn: Transaction, change: RowChange, record, old_record, shape: Shape) -> bytes:
        """The change as a subscriber of one role receives it: only the columns it may SELECT,
        and in `old_record` only the primary key where row level security applies to it."""
        return orjson.dumps(change_data(txn, change, shape.columns, shape.cut(record, shape.record),
                                        shape.cut(old_record, shape.old_record)))

    async def _evaluate(self, group: Batch) -> tuple[Verdict, dict[str, Shape]] | None:
        roles = sorted({role for role, _ in group.contexts})
        verdict = await self._verdict(group.changes, group.identities, group.filter_lists(), group.reachable)
        if verdict is None:
            return None
        for attempt in range(5):
            try:
                return verdict, await self.authorizer.shapes(group.rel.relid, roles)
            except LOST as exc:
                await self._reconnect(exc, attempt)
            except asyncpg.PostgresError as exc:
                self._failed(group.changes, exc)
                return None
        raise RuntimeError("realtime: authorization connection unavailable")

    async def _verdict(self, changes: list[RowChange], contexts, filters, reachable) -> Verdict | None:
        for attempt in range(5):
            try:
                return await self.authorizer.evaluate(changes, contexts, filters, reachable)
            except LOST as exc:  # before PostgresError: a terminated backend answers with one
                await self._reconnect(exc, attempt)
            except asyncpg.PostgresError as exc:
                # e.g. the table was dropped or altered since the change: nobody can be shown it.
                # A batch is retried change by change, so one such change costs only itself.
                if len(changes) == 1:
                    self._failed(changes, exc)
                    return None
                log.warning("realtime: authorizing %d changes of %s.%s together failed (%s); one by one now",
                            len(changes), changes[0].relation.schema, changes[0].relation.table, exc)
                return Verdict.merge([await self._verdict([c], contexts, filters, reachable) for c in changes],
                                     len(contexts), len(filters))
        raise RuntimeError("realtime: authorization connection unavailable")

    def _failed(self, changes: list[RowChange], exc: Exception) -> None:
        self.stats["authorization_failures"] += len(changes)
        rel = changes[0].relation
        log.error("realtime: authorizing %d %s change(s) on %s.%s failed, not delivered: %s", len(changes),
                  "/".join(sorted({c.kind for c in changes})), rel.schema, rel.table, exc)

    async def _reconnect(self, exc: Exception, attempt: int) -> None:
        log.warning("realtime: authorization connection lost (%s); reconnecting", exc)
        await asyncio.sleep(0.2 * (attempt + 1))
        self.service.reconnect_authorizer()

    # -- subscriptions -------------------------------------------------------------------------
    async def claim(self, ch: Channel) -> tuple[tuple[int, int], bool]:
        """The channel's starting position: a resumed one, or the current WAL position."""
        return await self.retention.claim(ch)

    async def activate(self, ch: Channel, position: tuple[int, int], resumed: bool) -> None:
        """Replay what was retained after `position`, then receive live changes."""
        async with self.lock:
            if ch.conn.closing or ch.conn.channels.get(ch.topic) is not ch:
                # left (or the socket went away) while waiting: keep the position only for a socket
                await self.retention.release(ch, position if ch.conn.closing else None)
                return
            ch.considered = ch.sent_position = position
            await self._open_authorizer()
            try:
                missed = self.retention.since(position)
            except Gap as exc:
                if resumed:
                    self.stats["resume_gaps"] += 1
                    ch.system("postgres_changes", "error", f"Some changes were not retained: {exc}")
                missed = self.retention.since(self.retention.floor)
            await self._deliver([(item.txn, item.change) for item in missed], only=[ch])
            if resumed:
                self.stats["resumed_subscriptions"] += 1
                self.stats["replayed_changes"] += len(missed)
            for b in ch.bindings:
                index = self.by_relid.setdefault(b.relid, set()) if b.relid is not None \
                    else self.by_schema.setdefault(b.schema, set())
                index.add(ch)
            self.audiences.changed()
            self.live.add(ch)
            ch.live = True

    async def _open_authorizer(self) -> None:
        """Open the authorization connection for a subscriber (if it is not open), so that its
        first change does not wait for it; if PostgreSQL refuses now, that change opens it."""
        try:
            await self.authorizer.open()
        except LOST as exc:
            log.warning("realtime: opening the authorization connection failed (%s); trying again at the next "
                        "change", exc)

    async def close_idle_authorizer(self, idle_seconds: float) -> None:
        """With no subscriber for `idle_seconds`, close the authorization connections (a joining
        subscriber opens them again in activate(), under the same lock)."""
        if self.live or self.authorizer.idle_for() < idle_seconds:
            return
        async with self.lock:
            if not self.live and self.authorizer.idle_for() >= idle_seconds:
                await self.authorizer.close()

    def resume_position(self, ch: Channel) -> tuple[int, int]:
        if ch.pending:
            return ch.sent_position
        return max(ch.considered, self.processed)

    async def unsubscribe(self, ch: Channel, *, resumable: bool) -> None:
        if not ch.live:
            return
        ch.live = False
        self.live.discard(ch)
        self.authorizer.used_at = time.monotonic()  # idle (close_idle_authorizer) from the last one leaving
        self.audiences.changed()
        for b in ch.bindings:
            index = self.by_relid.get(b.relid) if b.relid is not None else self.by_schema.get(b.schema)
            if index is not None:
                index.discard(ch)
                if not index and b.relid is not None:
                    self.by_relid.pop(b.relid, None)
                elif not index:
                    self.by_schema.pop(b.schema, None)
        await self.retention.release(ch, self.resume_position(ch) if resumable else None)

    async def checkpoint(self) -> None:
        """Every 0.2 s: record positions, trim the buffer, confirm the slot as far as allowed."""
        self.retention.trim()
        positions, sent = {}, {}
        for ch in self.live:  # one pass (a thousand subscribers, five times a second)
            sent[ch.position_id] = ch.sent_position
            positions[ch.position_id] = self.resume_position(ch)
        oldest = await self.retention.checkpoint(positions, sent)
        flush = max(self.processed_end_lsn, self.stream.idle_lsn if self.stream.queue.empty() else 0)
        if oldest is not None:
            flush = min(flush, oldest)
        self.stream.send_feedback(flush)
