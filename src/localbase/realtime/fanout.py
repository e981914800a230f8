"""Fan-out stage: each committed row change, in commit order, to the channels whose bindings
match it and whose subscriber PostgreSQL allows to see it (authorize.py), once per channel.

- One task consumes transactions in commit order; per row change, one authorization query for
  all the interested (role, claims) contexts and filter lists, then one frame per channel
  (serialized once) put on each socket's bounded queue without waiting: a slow socket never
  holds up the others or the database.
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

from localbase.realtime import broadcast
from localbase.realtime import private as private_channels
from localbase.realtime.channels import Channel
from localbase.realtime.payload import change_data
from localbase.realtime.pgoutput import RowChange, Transaction
from localbase.realtime.retention import SEQ_END, Gap, Retention

if TYPE_CHECKING:
    from localbase.realtime.authorize import Authorizer, Shape, Verdict
    from localbase.realtime.changes import ChangeStream
    from localbase.realtime.service import Realtime

log = logging.getLogger("localbase.realtime")


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
        self.processed: tuple[int, int] = (0, -1)
        self.processed_end_lsn = 0
        self.stats = service.stats

    # -- the consumer --------------------------------------------------------------------------
    async def run(self) -> None:
        queue = self.stream.queue
        while True:
            txn = await queue.get()
            stats = self.stats
            started = time.time()
            stats["stream_lag_ms"] += (started - txn.commit_time.timestamp()) * 1000 * len(txn.changes)
            try:
                async with self.lock:
                    for change in txn.changes:
                        if _is_message(change):  # realtime.send(): a broadcast, not a row change
                            self._broadcast_message(change)
                            continue
                        self.retention.add(txn, change)
                        await self._deliver(txn, change, self._candidates(change))
                    stats["fanout_ms"] += (time.time() - started) * 1000
                    self.processed = (txn.commit_lsn, SEQ_END)
                    self.processed_end_lsn = txn.end_lsn
            finally:
                self.stream.done(txn)

    def _broadcast_message(self, change: RowChange) -> None:
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
                          {"type": "broadcast", "event": row.get("event"), "payload": payload})
        self.stats["database_broadcasts"] += 1

    def _candidates(self, change: RowChange) -> set[Channel]:
        rel = change.relation
        found = set(self.by_relid.get(rel.relid, ()))
        found.update(self.by_schema.get(rel.schema, ()))
        found.update(self.by_schema.get("*", ()))
        return found

    async def _deliver(self, txn: Transaction, change: RowChange, channels) -> None:
        position = (txn.commit_lsn, change.seq)
        rel = change.relation
        interested = []
        for ch in channels:
            if ch.considered >= position:
                continue
            bindings = [b for b in ch.bindings
                        if b.event in ("*", change.kind)
                        and (b.relid == rel.relid or (b.relid is None and b.schema in (rel.schema, "*")))]
            if bindings:
                interested.append((ch, bindings))
            else:
                ch.considered = position
        if not interested:
            return
        contexts: dict[tuple[str, str], int] = {}
        filter_lists: dict[str, int] = {}
        for ch, bindings in interested:
            contexts.setdefault((ch.context.role, ch.context.claims_json), len(contexts))
            for b in bindings:
                if b.filters:
                    filter_lists.setdefault(orjson.dumps(b.filters).decode(), len(filter_lists))
        began = time.perf_counter()
        evaluated = await self._evaluate(change, list(contexts), [orjson.loads(f) for f in filter_lists])
        self.stats["authorize_ms"] += (time.perf_counter() - began) * 1000
        if evaluated is None:
            for ch, _ in interested:
                ch.considered = position
            return
        verdict, shapes = evaluated
        frames: dict[str, bytes] = {}  # per role: what its Shape lets it see, serialized once
        for ch, bindings in interested:
            ch.considered = position
            if not verdict.visible[contexts[(ch.context.role, ch.context.claims_json)]]:
                continue
            ids = [b.id for b in bindings
                   if not b.filters or verdict.matched[filter_lists[orjson.dumps(b.filters).decode()]]]
            if not ids:
                continue
            data = frames.get(ch.context.role)
            if data is None:
                data = frames[ch.context.role] = self._data(txn, change, verdict, shapes[ch.context.role])
            conn = ch.conn
            payload = b'{"data":' + data + b',"ids":' + orjson.dumps(ids) + b"}"
            ch.pending += 1
            if conn.send(conn.frame_raw(ch.topic_json, b"postgres_changes", payload), ch, position):
                self.stats["changes_delivered"] += 1
            else:
                ch.pending -= 1

    @staticmethod
    def _data(txn: Transaction, change: RowChange, verdict: Verdict, shape: Shape) -> bytes:
        """The change as a subscriber of one role receives it: only the columns it may SELECT,
        and in `old_record` only the primary key where row level security applies to it."""
        return orjson.dumps(change_data(txn, change, shape.columns, shape.cut(verdict.record, shape.record),
                                        shape.cut(verdict.old_record, shape.old_record)))

    async def _evaluate(self, change: RowChange, contexts, filter_lists) -> tuple[Verdict, dict[str, Shape]] | None:
        roles = sorted({role for role, _ in contexts})
        for attempt in range(5):
            try:
                verdict = await self.authorizer.evaluate(change, contexts, filter_lists)
                return verdict, await self.authorizer.shapes(change.relation.relid, roles)
            except asyncpg.PostgresError as exc:
                # e.g. the table was dropped or altered since the change: nobody can be shown it
                self.stats["authorization_failures"] += 1
                log.error("realtime: authorizing a %s on %s.%s failed, not delivered: %s",
                          change.kind, change.relation.schema, change.relation.table, exc)
                return None
            except (asyncpg.InterfaceError, OSError) as exc:
                log.warning("realtime: authorization connection lost (%s); reconnecting", exc)
                await asyncio.sleep(0.2 * (attempt + 1))
                await self.service.reconnect_authorizer()
        raise RuntimeError("realtime: authorization connection unavailable")

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
            try:
                missed = self.retention.since(position)
            except Gap as exc:
                if resumed:
                    self.stats["resume_gaps"] += 1
                    ch.system("postgres_changes", "error", f"Some changes were not retained: {exc}")
                missed = self.retention.since(self.retention.floor)
            for item in missed:
                await self._deliver(item.txn, item.change, [ch])
            if resumed:
                self.stats["resumed_subscriptions"] += 1
                self.stats["replayed_changes"] += len(missed)
            for b in ch.bindings:
                index = self.by_relid.setdefault(b.relid, set()) if b.relid is not None \
                    else self.by_schema.setdefault(b.schema, set())
                index.add(ch)
            self.live.add(ch)
            ch.live = True

    def resume_position(self, ch: Channel) -> tuple[int, int]:
        if ch.pending:
            return ch.sent_position
        return max(ch.considered, self.processed)

    async def unsubscribe(self, ch: Channel, *, resumable: bool) -> None:
        if not ch.live:
            return
        ch.live = False
        self.live.discard(ch)
        for b in ch.bindings:
            index = self.by_relid.get(b.relid) if b.relid is not None else self.by_schema.get(b.schema)
            if index is not None:
                index.discard(ch)
                if not index:
                    (self.by_relid if b.relid is not None else self.by_schema).pop(
                        b.relid if b.relid is not None else b.schema, None)
        await self.retention.release(ch, self.resume_position(ch) if resumable else None)

    async def checkpoint(self) -> None:
        """Every 0.2 s: record positions, trim the buffer, confirm the slot as far as allowed."""
        self.retention.trim()
        positions = {ch.position_id: self.resume_position(ch) for ch in self.live}
        oldest = await self.retention.checkpoint(positions)
        flush = max(self.processed_end_lsn, self.stream.idle_lsn if self.stream.queue.empty() else 0)
        if oldest is not None:
            flush = min(flush, oldest)
        self.stream.send_feedback(flush)
