"""Broadcast replay (`config.broadcast.replay = {since, limit}`), as on Supabase: a private
channel joining may first receive the last `limit` (at most 25) messages realtime.send() stored
for its topic since `since` (ms since the epoch), oldest first, each with `meta.replayed`.
Public channels may not ask for it."""

from __future__ import annotations

import logging
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
    since `since`, oldest first, each marked `meta.replayed`."""
    try:
        async with channel.conn.service.db.acquire() as db:
            rows = await db.fetch(REPLAY, channel.subtopic, float(since), limit)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning("realtime: replaying messages of %s failed: %s", channel.subtopic, exc)
        channel.system("broadcast", "error", "UnableToReplayMessages: Realtime was unable to replay messages")
        return
    for row in rows:
        channel.conn.push(channel.topic, "broadcast",
                          {"type": "broadcast", "event": row["event"], "payload": row["payload"],
                           "meta": {"replayed": True, "id": str(row["id"])}}, channel.join_ref)
