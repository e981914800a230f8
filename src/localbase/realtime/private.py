"""Private channels (Realtime Authorization): what a subscriber may receive and send on a topic is
what the project's RLS policies on `realtime.messages` let its role and JWT claims SELECT and
INSERT, as on Supabase. PostgreSQL decides; Python only asks.

- Reading (at join, and again when the token changes): in one transaction that is rolled back,
  a probe row per extension ('broadcast', 'presence' when presence is on) is inserted for the
  topic, then, as the subscriber (role, `request.jwt.claims`, `realtime.topic()`), the probe rows
  it can SELECT are read back. No broadcast read: the join is refused.
- Writing (the first broadcast or presence push of a channel, then remembered until the token
  changes): as the subscriber, an INSERT of a row for the topic and extension, rolled back; a
  row-level security refusal (42501) means no.

A policy that fails (an error in its expression) counts as a refusal and is logged.
Private and public channels of one topic name are separate: a private broadcast reaches only
the private channel's members (`route` in channels.py).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg

from localbase.database.pool import UNAVAILABLE

if TYPE_CHECKING:
    from localbase.realtime.channels import Context

log = logging.getLogger("localbase.realtime")

SET_CONTEXT = """
select set_config('role', $1, true), set_config('realtime.topic', $2, true),
       set_config('request.jwt.claims', $3, true), set_config('request.jwt.claim.sub', $4, true),
       set_config('request.jwt.claim.role', $1, true)
"""
PROBE = """
insert into realtime.messages (id, topic, extension, private)
select id, $2, extension, true from unnest($1::uuid[], $3::text[]) as p(id, extension)
"""


def route(topic: str, private: bool) -> str:
    """The key of a channel's members: a private and a public channel of one topic are separate."""
    return f"private|{topic}" if private else f"public|{topic}"  # both prefixed: no topic can pose as the other


@dataclass
class Policies:
    broadcast_read: bool = False
    presence_read: bool = False
    broadcast_write: bool | None = None  # None: not asked yet
    presence_write: bool | None = None


async def _as_subscriber(db: asyncpg.Connection, context: Context, topic: str) -> None:
    await db.fetchval(SET_CONTEXT, context.role, topic, context.claims_json, context.sub or "")


async def read_policies(pool: asyncpg.Pool, context: Context, topic: str, *, presence: bool) -> Policies:
    """What the subscriber may receive on `topic` (the channel name, without `realtime:`)."""
    extensions = ["broadcast", "presence"] if presence else ["broadcast"]
    ids = [uuid.uuid4() for _ in extensions]
    async with pool.acquire() as db:
        tx = db.transaction()
        await tx.start()
        try:
            await db.execute(PROBE, ids, topic, extensions)
            try:
                await _as_subscriber(db, context, topic)
                found = await db.fetch("select id from realtime.messages where id = any($1::uuid[])", ids)
                seen = {r[0] for r in found}
            except UNAVAILABLE:
                raise  # no answer yet, not a refusal
            except asyncpg.PostgresError as exc:  # a failing policy, an unknown role: no access
                log.warning("realtime: checking read access to private topic %s failed: %s", topic, exc)
                seen = set()
        finally:
            await tx.rollback()
    readable = {ext for ext, probe in zip(extensions, ids, strict=True) if probe in seen}
    return Policies(broadcast_read="broadcast" in readable, presence_read="presence" in readable)


async def may_write(pool: asyncpg.Pool, context: Context, topic: str, extension: str) -> bool:
    """May the subscriber send `extension` ('broadcast' or 'presence') messages on `topic`?"""
    async with pool.acquire() as db:
        tx = db.transaction()
        await tx.start()
        try:
            await _as_subscriber(db, context, topic)
            await db.execute("insert into realtime.messages (topic, extension, private) values ($1, $2, true)",
                             topic, extension)
            return True
        except asyncpg.InsufficientPrivilegeError:
            return False
        except UNAVAILABLE:
            raise  # no answer yet, not a refusal
        except asyncpg.PostgresError as exc:
            log.warning("realtime: checking %s write access to private topic %s failed: %s", extension, topic, exc)
            return False
        finally:
            await tx.rollback()
