"""The Realtime inspector's relay: Studio joins a channel for the browser, server-side, with the
official Python client (realtime-py) over a real socket to this server's /realtime/v1, as the chosen
identity (anon key, service_role key, or a user's access token from callers.token_for), and hands
what arrives - postgres_changes, broadcast, presence, the channel's status - to the page as
server-sent events.

Why server-side rather than supabase-js in the browser: no key or user token ever reaches the page
(Studio may be reached from another machine behind its password, where a leaked token outlives the
session); the browser needs no script bundle and no network path to the API port (no CORS, the API
may listen on loopback only); and the client is still an official one, so what it receives is what
an app's client receives. A relay lives while its page follows it (it is closed when the page's
event stream ends, never attached within ATTACH_SECONDS, or Studio stops)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from localbase.settings import Settings

log = logging.getLogger("localbase.studio")
MAX_EVENTS = 500
ATTACH_SECONDS = 30.0
JOIN_SECONDS = 10.0


@dataclass
class Event:
    seq: int
    at: float
    kind: str  # status, postgres_changes, broadcast, presence
    summary: str
    payload: Any = None


@dataclass
class Relay:
    topic: str
    who: str
    id: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    events: deque[Event] = field(default_factory=lambda: deque(maxlen=MAX_EVENTS))
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    client: Any = None
    channel: Any = None
    attached: bool = False
    closed: bool = False
    _seq: Any = field(default_factory=itertools.count)

    def add(self, kind: str, summary: str, payload: Any = None) -> None:
        self.events.append(Event(next(self._seq), time.time(), kind, summary, payload))
        self.changed.set()

    async def join(self, settings: Settings, token: str, *, private: bool, changes: dict[str, str] | None,
                   presence_key: str) -> None:
        from realtime import AsyncRealtimeClient
        self.client = AsyncRealtimeClient(f"{_ws_base(settings)}/realtime/v1", token=settings.anon_key,
                                          auto_reconnect=True)
        await self.client.set_auth(token)
        config: dict[str, Any] = {"private": private, "broadcast": {"self": True, "ack": True}}
        if presence_key:
            config["presence"] = {"key": presence_key, "enabled": True}
        channel = self.client.channel(self.topic, {"config": config})
        if changes is not None:
            channel.on_postgres_changes(changes["event"], self._change, table=changes["table"] or None,
                                        schema=changes["schema"] or "public", filter=changes["filter"] or None)
        channel.on_broadcast("*", lambda p: self.add("broadcast", f"event {p.get('event')!r}", p.get("payload")))
        if presence_key:
            channel.on_presence_sync(lambda: self.add("presence", "sync", channel.presence_state()))
            channel.on_presence_join(lambda key, _cur, new: self.add("presence", f"join {key}", new))
            channel.on_presence_leave(lambda key, _cur, left: self.add("presence", f"leave {key}", left))
        self.channel = channel
        done = asyncio.Event()

        def status(state, error) -> None:
            text = getattr(state, "value", str(state))
            self.add("status", text + (f": {error}" if error else ""))
            done.set()

        await asyncio.wait_for(channel.subscribe(status), JOIN_SECONDS)
        await asyncio.wait_for(done.wait(), JOIN_SECONDS)

    def _change(self, payload: dict[str, Any]) -> None:
        data = dict(payload.get("data", payload))
        kind = data.get("type")
        data["type"] = getattr(kind, "value", kind)  # realtime-py's enum: its wire value
        self.add("postgres_changes", f"{data['type']} {data.get('schema')}.{data.get('table')}", data)

    async def broadcast(self, event: str, payload: Any) -> None:
        await self.channel.send_broadcast(event, payload)

    async def track(self, payload: dict[str, Any]) -> None:
        await self.channel.track(payload)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.changed.set()
        if self.client is not None:
            try:
                await self.client.close()
            except Exception as exc:  # noqa: BLE001 - closing a socket that already broke is no news
                log.debug("closing a realtime relay: %s", exc)


def _ws_base(settings: Settings) -> str:
    host = settings.host
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host in ("::", "[::]"):
        host = "[::1]"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"ws://{host}:{settings.port}"


class Relays:
    """Every open relay, by id (each belongs to the session that opened it)."""

    def __init__(self) -> None:
        self.by_id: dict[str, tuple[str, Relay]] = {}
        self.closing: set[asyncio.Task] = set()

    def add(self, session_id: str, relay: Relay) -> None:
        self.by_id[relay.id] = (session_id, relay)
        asyncio.get_running_loop().call_later(ATTACH_SECONDS, self._unattached, relay.id)

    def get(self, session_id: str, relay_id: str) -> Relay | None:
        found = self.by_id.get(relay_id)
        return found[1] if found and found[0] == session_id else None

    def _unattached(self, relay_id: str) -> None:
        found = self.by_id.get(relay_id)
        if found and not found[1].attached:
            task = asyncio.ensure_future(self.close(relay_id))
            self.closing.add(task)
            task.add_done_callback(self.closing.discard)

    async def close(self, relay_id: str) -> None:
        found = self.by_id.pop(relay_id, None)
        if found:
            await found[1].close()

    async def close_all(self) -> None:
        for relay_id in list(self.by_id):
            await self.close(relay_id)
