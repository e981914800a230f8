"""Retention: nothing committed is lost for a subscriber that reconnects within the window.

Three pieces (docs/realtime.md has the whole story):
- a position per postgres_changes subscription in `realtime.subscription_positions`: inserted at
  join, checkpointed every 0.2 s while connected, written exactly at disconnect (the last
  change written to its socket), and marked disconnected at start-up for those a crash cut off;
- an in-memory buffer of the recent row changes (bounded by the window and by a count);
- the replication slot's confirmed position, which never passes the oldest recorded position,
  so after a restart PostgreSQL resends every transaction any recorded subscription may miss.
A join whose resume key (topic, bindings, role, user id) matches a disconnected position within
the window - or one still marked connected by a process that is gone (localbase.node_status: another
node killed, its client now reconnected to this one) - takes it over and first receives the
buffered changes after it.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg

from localbase.realtime.changes import lsn_text, parse_lsn
from localbase.realtime.pgoutput import RowChange, Transaction

if TYPE_CHECKING:
    from localbase.realtime.channels import Channel

log = logging.getLogger("localbase.realtime")
SEQ_END = 2**31 - 1
# A connected subscription that was sent nothing since its position was last written (the changes
# it moved past were refused or not its own) is written at most this often: after a crash it
# resumes a little earlier and those changes are checked again and refused again - nothing is
# sent twice - while a thousand idle subscriptions no longer cost a thousand-row UPDATE 5 times
# a second. One that was sent something is written at the next checkpoint, as before.
IDLE_WRITE_SECONDS = 5.0

CLAIM = """
with taken as (
  delete from realtime.subscription_positions
   where id = (select id from realtime.subscription_positions
                where key = $2 and not connected and updated_at > now() - make_interval(secs => $3)
                order by lsn, seq limit 1 for update skip locked)
  returning lsn, seq
)
insert into realtime.subscription_positions (id, key, lsn, seq, connected, owner)
select $1, $2, coalesce((select lsn from taken), pg_current_wal_insert_lsn()),
       coalesce((select seq from taken), -1), true, $4
returning lsn::text, seq, (select count(*) from taken) > 0 as resumed
"""

# Before a claim: this key's subscriptions held by a process that is gone (another node killed,
# say, its client now reconnected here) are disconnected as of when it was last seen, so the
# claim below may resume them (nodes/reaper.py does the same for all, a moment later).
RELEASE_GONE = """
update realtime.subscription_positions p
   set connected = false, updated_at = greatest(p.updated_at, n.seen_at)
  from localbase.node_status n
 where p.key = $1 and p.connected and p.owner <> $2 and n.slot = p.owner and not n.alive
"""

CHECKPOINT = """
update realtime.subscription_positions p
   set lsn = v.lsn::pg_lsn, seq = v.seq, connected = v.connected, updated_at = now()
  from unnest($1::uuid[], $2::text[], $3::int[], $4::bool[]) as v(id, lsn, seq, connected)
 where p.id = v.id
"""


@dataclass
class Retained:
    position: tuple[int, int]
    txn: Transaction
    change: RowChange
    arrived: float


class Gap(Exception):
    """The buffer no longer holds everything after the requested position."""


class Retention:
    def __init__(self, pool: asyncpg.Pool, window: float, max_items: int, owner: str = ""):
        self.pool = pool
        self.owner = owner  # this worker's slot: the positions it holds while connected
        self.window = window
        self.max_items = max_items
        self.buffer: deque[Retained] = deque()
        self.floor: tuple[int, int] = (0, -1)  # everything after this is buffered (or not yet read)
        self._written: dict = {}  # position id -> last position written to the table
        self._written_at: dict = {}  # position id -> when (monotonic)

    # -- the buffer ----------------------------------------------------------------------------
    def add(self, txn: Transaction, change: RowChange) -> None:
        self.buffer.append(Retained((txn.commit_lsn, change.seq), txn, change, time.monotonic()))
        if len(self.buffer) > self.max_items:
            self.floor = self.buffer.popleft().position

    def trim(self) -> None:
        cutoff = time.monotonic() - self.window
        while self.buffer and self.buffer[0].arrived < cutoff:
            self.floor = self.buffer.popleft().position

    def since(self, position: tuple[int, int]) -> list[Retained]:
        if position < self.floor:
            raise Gap(f"changes after {lsn_text(position[0])} are no longer retained")
        return [r for r in self.buffer if r.position > position]

    # -- positions -----------------------------------------------------------------------------
    async def start(self, db: asyncpg.Connection, slot_lsn: int, gone_owners: Sequence[str] = ()) -> None:
        """At start-up (on `db`): this worker's subscriptions still marked connected were cut off
        (crash or restart), as are those of workers that no longer run (`gone_owners`)."""
        self.floor = (slot_lsn, -1)
        n = await db.fetchval("with m as (update realtime.subscription_positions set connected = false "
                              "where connected and (owner = $1 or owner = any($2::text[])) returning 1) "
                              "select count(*) from m", self.owner, list(gone_owners))
        if n:
            log.info("realtime: %d subscription(s) may resume within %.0fs", n, self.window)

    async def claim(self, channel: Channel) -> tuple[tuple[int, int], bool]:
        """(position to start after, resumed?) for a joining channel."""
        async with self.pool.acquire() as db, db.transaction():
            await db.execute(RELEASE_GONE, channel.resume_key, self.owner)
            row = await db.fetchrow(CLAIM, channel.position_id, channel.resume_key, self.window, self.owner)
        position = (parse_lsn(row["lsn"]), row["seq"])
        self._written[channel.position_id] = position
        self._written_at[channel.position_id] = time.monotonic()
        return position, row["resumed"]

    async def release(self, channel: Channel, position: tuple[int, int] | None) -> None:
        """Disconnected at `position` (kept for a resume), or left for good (None)."""
        self._written.pop(channel.position_id, None)
        self._written_at.pop(channel.position_id, None)
        async with self.pool.acquire() as db:
            if position is None:
                await db.execute("delete from realtime.subscription_positions where id = $1", channel.position_id)
            else:
                await db.execute(CHECKPOINT, [channel.position_id], [lsn_text(position[0])],
                                 [position[1]], [False])

    async def checkpoint(self, positions: dict, sent: dict | None = None) -> int | None:
        """Write the connected subscriptions' positions that moved (`sent`: the last change each
        was sent; see IDLE_WRITE_SECONDS), expire old disconnected ones; returns the oldest
        recorded LSN (the slot must not be confirmed past it), or None."""
        ids, lsns, seqs, moved = [], [], [], []
        now = time.monotonic()
        for pid, position in positions.items():
            written = self._written.get(pid)
            if written == position:
                continue
            if (written is not None and sent is not None and sent.get(pid, (0, -1)) <= written
                    and now - self._written_at.get(pid, 0.0) < IDLE_WRITE_SECONDS):
                continue
            ids.append(pid)
            lsns.append(lsn_text(position[0]))
            seqs.append(position[1])
            moved.append(position)
        async with self.pool.acquire() as db:
            if ids:
                await db.execute(CHECKPOINT, ids, lsns, seqs, [True] * len(ids))
                for pid, position in zip(ids, moved, strict=True):
                    self._written[pid] = position
                    self._written_at[pid] = now
            await db.execute("delete from realtime.subscription_positions "
                             "where not connected and updated_at < now() - make_interval(secs => $1)", self.window)
            oldest = await db.fetchval("select min(lsn)::text from realtime.subscription_positions")
        return parse_lsn(oldest) if oldest else None
