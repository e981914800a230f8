"""Channels stage: phx_join / phx_leave / access_token on a socket, and the per-channel state
(who the subscriber is, its postgres_changes bindings, broadcast and presence options).

Who the subscriber is: the JWT in the join payload's `access_token` (or, without one, the API
key the socket was opened with), verified with the project's secret. Its `role` claim is the
PostgreSQL role the subscriber's changes are checked as, its claims are `request.jwt.claims`.
An expired or invalid token is refused at join; a token that expires while joined (or an
invalid `access_token` update) closes the channel with a system message, as Supabase does.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg
import orjson

from localbase.database.pool import UNAVAILABLE
from localbase.realtime import broadcast, filters, presence
from localbase.realtime import private as private_channels
from localbase.realtime import replay as broadcast_replay
from localbase.realtime.authorize import validate_binding
from localbase.security import jwt

if TYPE_CHECKING:
    from localbase.realtime.socket import Connection

log = logging.getLogger("localbase.realtime")

EVENTS = {"*", "INSERT", "UPDATE", "DELETE"}
START = (0, -1)
TOO_MANY_CHANNELS = "ChannelRateLimitReached: Too many channels"  # Supabase Realtime's words


@dataclass(frozen=True)  # replaced, never changed: batch.Audiences relies on it
class Context:
    role: str
    claims_json: str
    exp: float | None
    sub: str | None
    # the claims' own sub, role and email as `claims ->> key` gives them ('' when absent, None:
    # not a string, PostgreSQL reads it from the claims): what realtime sets as
    # request.jwt.claim.sub / role / email beside request.jwt.claims (realtime.visible_each)
    claim_values: tuple[str | None, str | None, str | None] = ("", "", "")


@dataclass
class Binding:
    id: int
    event: str
    schema: str
    table: str | None
    filter: str | None
    filters: list
    relid: int | None
    params: dict[str, Any] = field(default_factory=dict)  # as the subscriber sent them

    def echo(self) -> dict[str, Any]:
        """The join reply's entry: the parameters exactly as sent, plus the binding's id (as
        Supabase answers; clients compare it with what they sent, defaults applied or not)."""
        return {**self.params, "id": self.id}


@dataclass(eq=False)
class Channel:
    conn: Connection
    topic: str
    join_ref: str | None
    context: Context
    broadcast_self: bool = False
    broadcast_ack: bool = False
    presence_enabled: bool = False
    presence_key: str = ""
    bindings: list[Binding] = field(default_factory=list)
    # postgres_changes position bookkeeping (fanout.py / retention.py)
    # its row in realtime.subscription_positions; text (a uuid): hashed cheaply at every checkpoint
    position_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    resume_key: str = ""
    considered: tuple[int, int] = START  # every change <= this was given or refused
    sent_position: tuple[int, int] = START  # last change written to the socket
    pending: int = 0  # change frames queued, not yet written
    live: bool = False
    expiry: asyncio.TimerHandle | None = None
    topic_json: bytes = b""
    private: bool = False
    policies: private_channels.Policies | None = None  # private channels: what RLS allows
    replay_gate: broadcast_replay.Gate | None = None  # asked for a broadcast replay (replay.py)

    @property
    def subtopic(self) -> str:
        return self.topic.split(":", 1)[1] if ":" in self.topic else self.topic

    @property
    def route(self) -> str:
        """Whom its broadcasts and presence reach: the members of the same topic *and* kind
        (a private and a public channel of one name are separate, as on Supabase)."""
        return private_channels.route(self.topic, self.private)

    def may_receive(self, extension: str) -> bool:
        if self.policies is None:
            return True
        return self.policies.broadcast_read if extension == "broadcast" else self.policies.presence_read

    async def may_send(self, extension: str) -> bool:
        """Public channels: yes. Private: what RLS says, asked once per token."""
        if self.policies is None:
            return True
        attr = f"{extension}_write"
        if getattr(self.policies, attr) is None:
            try:
                allowed = await private_channels.may_write(self.conn.service.pool, self.context, self.subtopic,
                                                           extension)
            except UNAVAILABLE as exc:  # the database is away: no, for now (not cached)
                log.warning("realtime: checking %s write access to %s failed: %s", extension, self.subtopic, exc)
                return False
            setattr(self.policies, attr, allowed)
        return getattr(self.policies, attr)

    def sent(self, position: tuple[int, int]) -> None:
        self.pending -= 1
        if position > self.sent_position:
            self.sent_position = position

    def system(self, extension: str, status: str, message: str) -> None:
        self.conn.push(self.topic, "system", {"channel": self.subtopic, "extension": extension,
                                              "message": message, "status": status}, self.join_ref)


def _context(conn: Connection, token: str | None) -> Context:
    """Raises jwt.JWTError (reason safe to show). An API key given as the token (supabase-js
    passes its key when signed out) stands for its role's JWT."""
    if token:
        token = conn.service.api_keys.token_for(token)
        if token is None:
            raise jwt.JWTError("Invalid API key")
    claims = jwt.verify(token or conn.apikey, conn.service.settings.keyring)
    return context_of(claims, claims.get("role") or conn.apikey_role)


def context_of(claims: dict[str, Any], role: Any) -> Context:
    """A subscriber's (role, claims) from verified claims; raises jwt.JWTError without a role."""
    if not isinstance(role, str):
        raise jwt.JWTError("Invalid JWT: role claim")
    sub = claims.get("sub")
    return Context(role, orjson.dumps(claims).decode(), claims.get("exp"), sub if isinstance(sub, str) else None,
                   (_claim_text(claims, "sub"), _claim_text(claims, "role"), _claim_text(claims, "email")))


def _claim_text(claims: dict[str, Any], key: str) -> str | None:
    """A claim as PostgreSQL's `claims ->> key` gives it: a string as it is, '' for an absent or
    null claim; None for other JSON values (PostgreSQL's text of them is its own to give)."""
    value = claims.get(key)
    if value is None:
        return ""
    return value if isinstance(value, str) else None


def _resume_key(channel: Channel) -> str:
    parts = [channel.topic, [[b.event, b.schema, b.table, b.filter] for b in channel.bindings],
             channel.context.role, channel.context.sub]
    return hashlib.sha256(orjson.dumps(parts)).hexdigest()


async def handle(conn: Connection, topic: str, event: str, payload: Any, ref: str | None,
                 join_ref: str | None) -> None:
    if event == "phx_join":
        return await join(conn, topic, payload, ref, join_ref or ref)
    channel = conn.channels.get(topic)
    if channel is None:
        return conn.reply(topic, ref, join_ref, "error", {"reason": "unmatched topic"})
    if event == "phx_leave":
        await leave(channel, resumable=False)
        return conn.reply(topic, ref, join_ref, "ok", {})
    if event == "access_token":
        return await update_token(channel, payload, ref)
    if event == "broadcast":
        return await broadcast.from_client(channel, payload, ref)
    if event == "presence":
        return await presence.from_client(channel, payload, ref)
    conn.reply(topic, ref, join_ref, "error", {"reason": f"unknown event {event}"})


async def join(conn: Connection, topic: str, payload: dict[str, Any], ref: str | None,
               join_ref: str | None) -> None:
    def refuse(reason: str) -> None:
        conn.reply(topic, ref, join_ref, "error", {"reason": reason})

    if topic in conn.channels:  # a rejoin on the same socket replaces the old channel
        await leave(conn.channels[topic], resumable=False)
    if len(conn.channels) >= conn.service.config.max_channels:  # before any work for the join
        conn.service.stats["refused_channels"] += 1
        log.info("realtime: ChannelRateLimitReached: a socket asked for more than %d channels",
                 conn.service.config.max_channels)
        return refuse(TOO_MANY_CHANNELS)
    if not isinstance(payload, dict):
        return refuse("invalid join payload")
    if not topic.startswith("realtime:") or topic == "realtime:":
        return refuse("TopicNameRequired: a channel topic is realtime:<name>")
    config = payload.get("config") or {}
    try:
        context = _context(conn, payload.get("access_token"))
    except jwt.JWTError as exc:
        return refuse(f"InvalidJWTToken: {exc.reason}")
    bcast = config.get("broadcast") or {}
    replay = broadcast_replay.params(bcast.get("replay"), bool(config.get("private")))
    if isinstance(replay, str):
        return refuse(replay)
    pres = config.get("presence") or {}
    channel = Channel(conn, topic, join_ref, context,
                      broadcast_self=bool(bcast.get("self")), broadcast_ack=bool(bcast.get("ack")),
                      presence_enabled=bool(pres.get("enabled")),
                      presence_key=str(pres.get("key") or "") or str(uuid.uuid4()),
                      topic_json=orjson.dumps(topic), private=bool(config.get("private")))
    service = conn.service
    if channel.private:
        denied = await _authorize_private(channel)
        if denied:
            return refuse(denied)
    try:
        channel.bindings = await _bindings(service, context, config.get("postgres_changes") or [])
    except (ValueError, filters.FilterError) as exc:
        return refuse(f"Invalid postgres_changes: {exc}")
    start = None
    if channel.bindings:
        # The position is taken before the reply: every change committed after the client hears
        # "ok" is after it, and reaches the channel live or from the retention buffer.
        channel.resume_key = _resume_key(channel)
        try:
            start = await service.changes.claim(channel)
        except Exception as exc:  # noqa: BLE001 - tell the client, log the cause
            log.exception("realtime: subscribing %s to postgres changes failed", topic)
            return refuse(f"Unable to subscribe to changes: {type(exc).__name__}")
    if replay is not None:  # live messages from the database wait for the replay (replay.py)
        channel.replay_gate = broadcast_replay.Gate()
    conn.channels[topic] = channel
    service.topics.setdefault(channel.route, set()).add(channel)
    conn.reply(topic, ref, join_ref, "ok", {"postgres_changes": [b.echo() for b in channel.bindings]})
    _schedule_expiry(channel)
    if start is not None:
        await service.changes.activate(channel, *start)
        channel.system("postgres_changes", "ok", "Subscribed to PostgreSQL")
    if channel.presence_enabled:
        presence.send_state(channel)
    if replay is not None:
        await broadcast_replay.send(channel, *replay)


async def _authorize_private(channel: Channel) -> str | None:
    """Read policies of a private channel; the reason to refuse the join, or None."""
    try:
        channel.policies = await private_channels.read_policies(
            channel.conn.service.pool, channel.context, channel.subtopic, presence=channel.presence_enabled)
    except (*UNAVAILABLE, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning("realtime: checking access to private topic %s failed: %s", channel.subtopic, exc)
        return "Realtime was unable to connect to the project database"
    if not channel.policies.broadcast_read:
        return f"Unauthorized: You do not have permissions to read from this Channel topic: {channel.subtopic}"
    return None


async def _bindings(service, context: Context, raw: list) -> list[Binding]:
    if not isinstance(raw, list):
        raise ValueError("postgres_changes must be a list")
    out = []
    async with service.pool.acquire() as db:
        if raw and not await db.fetchval(
                "select exists(select 1 from pg_roles where rolname = $1) and pg_has_role(current_user, $1, 'MEMBER')",
                context.role):
            raise ValueError(f"role {context.role} cannot subscribe")
        for item in raw:
            if not isinstance(item, dict):
                raise ValueError("each binding must be an object")
            event = str(item.get("event", "*")).upper()
            if event not in EVENTS:
                raise ValueError(f"unknown event {item.get('event')!r}")
            schema = item.get("schema") or "public"
            table = item.get("table")
            flt = item.get("filter")
            parsed = filters.parse(flt)
            relid = await validate_binding(db, schema, table, parsed, context.role)
            out.append(Binding(service.next_binding_id(), item.get("event", "*"), schema, table, flt, parsed, relid,
                               params=item))
    return out


def _schedule_expiry(channel: Channel) -> None:
    if channel.expiry is not None:
        channel.expiry.cancel()
        channel.expiry = None
    exp = channel.context.exp
    if isinstance(exp, (int, float)):
        delay = max(0.0, exp - time.time())
        channel.expiry = asyncio.get_running_loop().call_later(
            delay, lambda: asyncio.ensure_future(_expire(channel, "Token has expired")))


async def _expire(channel: Channel, message: str) -> None:
    if channel.conn.channels.get(channel.topic) is not channel:
        return
    channel.conn.service.stats["expired_channels"] += 1
    channel.system("system", "error", message)
    channel.conn.push(channel.topic, "phx_close", {}, channel.join_ref)
    await leave(channel, resumable=False)


async def update_token(channel: Channel, payload: Any, ref: str | None) -> None:
    token = payload.get("access_token") if isinstance(payload, dict) else None
    try:
        context = _context(channel.conn, token)
    except jwt.JWTError as exc:
        return await _expire(channel, f"InvalidJWTToken: {exc.reason}")
    if channel.bindings and context.role != channel.context.role:
        async with channel.conn.service.db.acquire() as db:
            if not await db.fetchval("select pg_has_role(current_user, $1, 'MEMBER')", context.role):
                return await _expire(channel, f"role {context.role} cannot subscribe")
    refreshed = context.claims_json != channel.context.claims_json
    channel.context = context  # the next change is checked with these claims
    if channel.private and refreshed:  # new claims: what RLS allows is asked again
        denied = await _authorize_private(channel)
        if denied:
            return await _expire(channel, denied)
    _schedule_expiry(channel)
    channel.conn.reply(channel.topic, ref, channel.join_ref, "ok", {})


async def leave(channel: Channel, *, resumable: bool) -> None:
    """Stop everything the channel does. `resumable`: the socket went away (not an explicit
    leave), so its postgres_changes position is kept for a reconnect."""
    conn, service = channel.conn, channel.conn.service
    if conn.channels.get(channel.topic) is channel:
        del conn.channels[channel.topic]
    members = service.topics.get(channel.route)
    if members is not None:
        members.discard(channel)
        if not members:
            del service.topics[channel.route]
    if channel.expiry is not None:
        channel.expiry.cancel()
    presence.forget(channel)
    if channel.bindings:
        await service.changes.unsubscribe(channel, resumable=resumable)


async def socket_closed(conn: Connection) -> None:
    for channel in list(conn.channels.values()):
        try:
            await leave(channel, resumable=True)
        except Exception:  # noqa: BLE001 - leave every channel, say which failed
            log.exception("realtime: leaving %s on disconnect failed", channel.topic)
