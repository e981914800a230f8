"""The Realtime bus: broadcast and presence shared by the API workers of every node of one
deployment, through PostgreSQL's LISTEN/NOTIFY (channel `localbase_realtime`, which is per
database, so it spans the nodes that share it).

Used with several workers (`localbase start --workers N`) or a named node (`--node-id`); a single
process needs nothing from it. Each worker delivers what its own clients send to its own clients
at once, as without the bus, and publishes it; the others deliver it to theirs. Postgres changes
need no bus: each worker of each node reads its own replication slot.

A notification's payload is text: `<peer>\\t<kind>\\t<message id>\\t<part>\\t<parts>\\t<body>`, the
body JSON. PostgreSQL caps a payload below 8000 bytes, so a longer body is sent in parts, which
the receivers put together again (one session's notifications arrive in the order it sent them).

Kinds: `b` a broadcast {t: topic, m: message}; `p` a presence diff {t, j: joins, l: leaves};
`h` hello ("I have (re)connected: send me your presence"); `s` a worker's whole presence
{topic: {key: [metas]}}; `k` keep-alive, every BEAT_SECONDS. A peer not heard for
EXPIRE_SECONDS is gone (killed, or cut off from the database): its presences leave.
Broadcasts are at most once, as in Supabase: one published while this worker has no database
connection is dropped (and counted); presence is made whole again by the hello that follows the
reconnect.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
import uuid
from typing import TYPE_CHECKING, Any

import orjson

from localbase.database.notify import NotifyChannel
from localbase.process import tasks, workers

if TYPE_CHECKING:
    from localbase.realtime.service import Realtime

log = logging.getLogger("localbase.realtime")
CHANNEL = "localbase_realtime"
CHUNK_CHARS = 1900  # at most 4 bytes a character: a part stays under PostgreSQL's 8000-byte cap
BEAT_SECONDS = 1.0
EXPIRE_SECONDS = 5.0
MAX_OUTBOX = 10_000
BATCH = 200

Metas = dict[str, list[dict[str, Any]]]  # presence key -> metas


class Bus:
    def __init__(self, service: Realtime, dsn: str):
        self.service = service
        node = service.settings.nodes.node_id or "-"
        self.peer = f"{node}/{workers.current().index}.{os.getpid()}.{uuid.uuid4().hex[:6]}"
        self.peers: dict[str, float] = {}  # peer -> when last heard (monotonic)
        self.remote: dict[str, dict[str, Metas]] = {}  # topic -> peer -> key -> metas
        self.link = NotifyChannel(dsn, CHANNEL, self._on_notify, name="bus", application_name="localbase-realtime-bus",
                                  stats=service.stats, on_connect=self._announce, max_outbox=MAX_OUTBOX, batch=BATCH)
        self._parts: dict[tuple[str, str], list[str]] = {}
        self._ids = itertools.count(1)
        self._beat_task: asyncio.Task | None = None
        self.stats = service.stats

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        self._beat_task = asyncio.create_task(self._beats(), name="realtime-bus-beats")
        if not await self.link.start(10):
            log.warning("realtime bus: no database connection yet; broadcast and presence stay on this "
                        "worker until there is one")

    async def stop(self) -> None:
        """After the sockets closed: send what they left (presence leaves), then disconnect."""
        await tasks.cancel(self._beat_task)
        await self.link.stop(2)

    def _announce(self) -> None:
        """(Re)connected: ask the others for their presence, and tell them ours."""
        self._publish("h", {})
        self._publish("s", self._own_state())

    # -- sending ---------------------------------------------------------------------------------
    def broadcast(self, topic: str, message: dict[str, Any]) -> None:
        self._publish("b", {"t": topic, "m": message})

    def presence_diff(self, topic: str, joins: Metas | dict, leaves: Metas | dict) -> None:
        self._publish("p", {"t": topic, "j": joins, "l": leaves})

    def _publish(self, kind: str, body: dict[str, Any]) -> None:
        if not self.link.connected:
            self.stats["bus_dropped"] += 1
            return
        text = orjson.dumps(body).decode()
        parts = [text[i:i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]
        if not self.link.room(len(parts)):
            self.stats["bus_dropped"] += 1
            log.warning("realtime bus: outbox full; a %s message was dropped", kind)
            return
        msg_id = next(self._ids)
        self.link.send([f"{self.peer}\t{kind}\t{msg_id}\t{n}\t{len(parts)}\t{part}" for n, part in enumerate(parts)])
        self.stats["bus_sent"] += 1

    async def _beats(self) -> None:
        while True:
            await asyncio.sleep(BEAT_SECONDS)
            self._publish("k", {})
            cutoff = time.monotonic() - EXPIRE_SECONDS
            for peer in [p for p, seen in self.peers.items() if seen < cutoff]:
                log.warning("realtime bus: peer %s (node/worker.pid) went silent; its presences leave", peer)
                self._forget_peer(peer)

    # -- receiving -------------------------------------------------------------------------------
    def _on_notify(self, payload: str) -> None:
        try:
            peer, kind, msg_id, part, parts, text = payload.split("\t", 5)
            n, total = int(part), int(parts)
        except ValueError:
            self.stats["bus_malformed"] += 1
            return
        if peer == self.peer:
            return
        known = peer in self.peers
        self.peers[peer] = time.monotonic()
        if total > 1:
            pieces = self._parts.setdefault((peer, msg_id), [])
            if len(pieces) != n:  # a part went missing (a reconnect in between): give the message up
                self._parts.pop((peer, msg_id), None)
                self.stats["bus_malformed"] += 1
                return
            pieces.append(text)
            if n + 1 < total:
                return
            text = "".join(self._parts.pop((peer, msg_id)))
        try:
            body = orjson.loads(text)
            self._handle(peer, kind, body)
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            self.stats["bus_malformed"] += 1
            log.warning("realtime bus: a malformed %r message from %s was ignored", kind, peer)
            return
        if not known and kind not in ("h", "s"):
            self._publish("h", {})  # a peer we had given up on, or missed the hello of

    def _handle(self, peer: str, kind: str, body: Any) -> None:
        from localbase.realtime import broadcast, presence
        self.stats["bus_received"] += 1
        if kind == "b":
            broadcast.deliver(self.service, body["t"], body["m"])
        elif kind == "p":
            self._apply_diff(peer, body["t"], body["j"], body["l"])
            presence.relay_diff(self.service, body["t"], body["j"], body["l"])
        elif kind == "h":
            self._publish("s", self._own_state())
        elif kind == "s":
            self._replace_state(peer, body)

    # -- presence of the other workers -------------------------------------------------------------
    def _own_state(self) -> dict[str, dict[str, dict[str, list]]]:
        """This worker's presences: topic -> key -> {"metas": [...]}, as presence.local_state gives them."""
        from localbase.realtime import presence
        return {topic: presence.local_state(self.service, topic) for topic in self.service.presences}

    def state(self, topic: str) -> dict[str, Metas]:
        """The other workers' presences on `topic`: peer -> key -> metas."""
        return self.remote.get(topic, {})

    def _apply_diff(self, peer: str, topic: str, joins: dict, leaves: dict) -> None:
        mine = self.remote.setdefault(topic, {}).setdefault(peer, {})
        for key, entry in leaves.items():
            gone = {m.get("phx_ref") for m in entry["metas"]}
            kept = [m for m in mine.get(key, ()) if m.get("phx_ref") not in gone]
            if kept:
                mine[key] = kept
            else:
                mine.pop(key, None)
        for key, entry in joins.items():
            mine.setdefault(key, []).extend(entry["metas"])
        self._prune(topic, peer)

    def _replace_state(self, peer: str, state: dict[str, dict]) -> None:
        from localbase.realtime import presence
        for topic in set(state) | {t for t, peers in self.remote.items() if peer in peers}:
            old = self.remote.get(topic, {}).get(peer, {})
            new = {key: list(entry["metas"]) for key, entry in state.get(topic, {}).items()}
            joins, leaves = _difference(new, old), _difference(old, new)
            self.remote.setdefault(topic, {})[peer] = new
            self._prune(topic, peer)
            if joins or leaves:
                presence.relay_diff(self.service, topic, joins, leaves)

    def _forget_peer(self, peer: str) -> None:
        from localbase.realtime import presence
        self.peers.pop(peer, None)
        for topic in [t for t, peers in self.remote.items() if peer in peers]:
            gone = self.remote[topic].pop(peer)
            if not self.remote[topic]:
                del self.remote[topic]
            leaves = {key: {"metas": metas} for key, metas in gone.items() if metas}
            if leaves:
                presence.relay_diff(self.service, topic, {}, leaves)
        for key in [k for k in self._parts if k[0] == peer]:
            del self._parts[key]

    def _prune(self, topic: str, peer: str) -> None:
        peers = self.remote.get(topic)
        if peers is not None and not peers.get(peer):
            peers.pop(peer, None)
            if not peers:
                del self.remote[topic]


def _difference(a: Metas, b: Metas) -> dict[str, dict[str, list]]:
    """The metas of `a` that `b` has not (by phx_ref), as a presence diff's joins or leaves."""
    out = {}
    for key, metas in a.items():
        refs = {m.get("phx_ref") for m in b.get(key, ())}
        extra = [m for m in metas if m.get("phx_ref") not in refs]
        if extra:
            out[key] = {"metas": extra}
    return out
