"""Broadcast replay (`config.broadcast.replay = {since, limit}`), as on Supabase: a private
channel joining may first receive the last `limit` (at most 25) messages realtime.send() stored
for its topic since `since` (ms since the epoch), oldest first, each with `meta.replayed`.
Public channels may not ask for it.

Replayed and live messages meet without gaps or repeats: while the replay is read, the messages
the replication stream brings for the channel are held (Gate); the replay is read in one
snapshot, and then a held or later message is sent live only when its transaction is not visible
in that snapshot (else it was committed before the replay read and belongs to the replay, which
may have left it out on purpose: older than `since`, beyond `limit`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg

if TYPE_CHECKING:
    from localbase.realtime.channels import Channel

log = logging.getLogger("localbase.realtime")

REPLAY_MAX = 25
REPLAY = """
select id, event, payload from (
  select id, event, payload, inserted_at from realtime.messages
   where topic = $1 and private and extension = 'broadcast'
     and inserted_at >= to_timestamp($2 / 1000.0) at time zone 'utc'
   order by inserted_at desc limit $3) as last
order by inserted_at
"""
# the replay's snapshot, with 32-bit transaction ids (as the replication stream gives them)
SNAPSHOT = """
select pg_snapshot_xmin(s)::text::bigint % 4294967296 as xmin, pg_snapshot_xmax(s)::text::bigint % 4294967296 as xmax,
       array(select x::text::bigint % 4294967296 from pg_snapshot_xip(s) as x) as xip
  from pg_current_snapshot() as s
"""


def _precedes(a: int, b: int) -> bool:
    """Transaction id a is older than b (32-bit ids, modulo wraparound, as PostgreSQL compares them)."""
    return ((a - b) & 0xFFFFFFFF) >= 0x80000000


@dataclass(frozen=True)
class Snapshot:
    xmin: int
    xmax: int
    xip: frozenset[int]

    def sees(self, xid: int) -> bool:
        """Was transaction `xid` committed for this snapshot (so its messages were readable)?"""
        return _precedes(xid, self.xmin) or (_precedes(xid, self.xmax) and xid not in self.xip)


@dataclass
class Gate:
    """A replaying channel's live messages from the database: held until the replay is read,
    then let through only when the replay's snapshot did not see their transaction."""

    held: list[tuple[int, bytes]] | None = field(default_factory=list)
    snapshot: Snapshot | None = None

    def stops(self, xid: int, frame: bytes) -> bool:
        """True when the frame of a message committed by `xid` is not to be sent now (held, or
        one the replay covered)."""
        if self.held is not None:
            self.held.append((xid, frame))
            return True
        return self.snapshot is not None and self.snapshot.sees(xid)

    def open(self, snapshot: Snapshot | None) -> list[bytes]:
        """The replay was read in `snapshot` (None: it failed, nothing was replayed): the held
        frames to send now, in order."""
        held, self.held, self.snapshot = self.held or [], None, snapshot
        return [frame for xid, frame in held if snapshot is None or not snapshot.sees(xid)]


def params(raw: Any, private: bool) -> tuple[int, int] | str | None:
    """`config.broadcast.replay` = {since: ms since the epoch, limit?: 1..25}: (since, limit), the
    reason to refuse the join, or None."""
    if raw is None:
        return None
    if not private:
        return "UnableToReplayMessages: Replay is not allowed for public channels"
    since = raw.get("since") if isinstance(raw, dict) else None
    limit = raw.get("limit", REPLAY_MAX) if isinstance(raw, dict) else None
    if not isinstance(since, int) or isinstance(since, bool) or not isinstance(limit, int) or isinstance(limit, bool):
        return "UnableToReplayMessages: Replay params are not valid"
    return since, max(1, min(limit, REPLAY_MAX))


async def send(channel: Channel, since: int, limit: int) -> None:
    """Broadcast replay: the last `limit` messages realtime.send() stored for this private topic
    since `since`, oldest first, each marked `meta.replayed`; then the live ones held meanwhile."""
    gate = channel.replay_gate
    snapshot = None
    try:
        async with channel.conn.service.db.acquire() as db, db.transaction(isolation="repeatable_read",
                                                                            readonly=True):
            rows = await db.fetch(REPLAY, channel.subtopic, float(since), limit)
            found = await db.fetchrow(SNAPSHOT)
            snapshot = Snapshot(found["xmin"], found["xmax"], frozenset(found["xip"]))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning("realtime: replaying messages of %s failed: %s", channel.subtopic, exc)
        channel.system("broadcast", "error", "UnableToReplayMessages: Realtime was unable to replay messages")
        rows = []
    for row in rows:
        channel.conn.push(channel.topic, "broadcast",
                          {"type": "broadcast", "event": row["event"], "payload": row["payload"],
                           "meta": {"replayed": True, "id": str(row["id"])}}, channel.join_ref)
    if gate is not None:
        for frame in gate.open(snapshot):
            channel.conn.send(frame)
