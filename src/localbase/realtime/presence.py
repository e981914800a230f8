"""Presence stage: per topic, who is here (`track` / `untrack` pushes), sent to every member as
Phoenix Presence does: the whole state on join (`presence_state`), then diffs (`presence_diff`)
`{"joins": {key: {"metas": [...]}}, "leaves": {...}}`, each meta carrying its `phx_ref`.
A channel tracks one meta under its presence key (config.presence.key, or a random one);
tracking again replaces it (`phx_ref_prev` names the one replaced).
With several workers, the others' presences come from the bus (realtime.bus): the state a member
gets on join is this worker's and theirs together, and every diff goes to all of them."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localbase.realtime.channels import Channel
    from localbase.realtime.service import Realtime


def local_state(service: Realtime, topic: str) -> dict[str, dict[str, list]]:
    """This worker's presences on `topic`: key -> {"metas": [...]}."""
    state: dict[str, dict[str, list]] = {}
    for member, meta in service.presences.get(topic, {}).items():
        state.setdefault(member.presence_key, {"metas": []})["metas"].append(meta)
    return state


def _state(service: Realtime, topic: str) -> dict[str, dict[str, list]]:
    state = local_state(service, topic)
    if service.bus is not None:
        for keys in service.bus.state(topic).values():
            for key, metas in keys.items():
                state.setdefault(key, {"metas": []})["metas"].extend(metas)
    return state


def send_state(channel: Channel) -> None:
    conn = channel.conn
    if channel.may_receive("presence"):
        conn.push(channel.topic, "presence_state", _state(conn.service, channel.route), channel.join_ref)


def relay_diff(service: Realtime, route: str, joins: dict, leaves: dict) -> None:
    """A diff to every member of `route` (a topic, public or private) on this worker that may see it."""
    for member in list(service.topics.get(route, ())):
        if member.may_receive("presence"):
            member.conn.push(member.topic, "presence_diff", {"joins": joins, "leaves": leaves}, member.join_ref)
    service.stats["presence_diffs"] += 1


def _diff(channel: Channel, joins: dict, leaves: dict) -> None:
    service = channel.conn.service
    relay_diff(service, channel.route, joins, leaves)
    if service.bus is not None:
        service.bus.presence_diff(channel.route, joins, leaves)


async def from_client(channel: Channel, payload: Any, ref: str | None) -> None:
    conn = channel.conn
    if not isinstance(payload, dict) or payload.get("event") not in ("track", "untrack"):
        return conn.reply(channel.topic, ref, channel.join_ref, "error", {"reason": "invalid presence event"})
    if payload["event"] == "track" and not await channel.may_send("presence"):
        return conn.reply(channel.topic, ref, channel.join_ref, "error",
                          {"reason": "Unauthorized: You do not have permissions to track presence on this Channel "
                                     f"topic: {channel.subtopic}"})
    if payload["event"] == "track":
        meta = payload.get("payload") or {}
        if not isinstance(meta, dict):
            return conn.reply(channel.topic, ref, channel.join_ref, "error",
                              {"reason": "presence payload must be an object"})
        track(channel, meta)
    else:
        forget(channel)
    conn.reply(channel.topic, ref, channel.join_ref, "ok", {})


def track(channel: Channel, meta: dict[str, Any]) -> None:
    tracked = channel.conn.service.presences.setdefault(channel.route, {})
    previous = tracked.get(channel)
    new_meta = {**meta, "phx_ref": uuid.uuid4().hex[:20]}
    leaves = {}
    if previous is not None:
        new_meta["phx_ref_prev"] = previous["phx_ref"]
        leaves = {channel.presence_key: {"metas": [previous]}}
    tracked[channel] = new_meta
    _diff(channel, {channel.presence_key: {"metas": [new_meta]}}, leaves)


def forget(channel: Channel) -> None:
    service = channel.conn.service
    tracked = service.presences.get(channel.route)
    if not tracked or channel not in tracked:
        return
    meta = tracked.pop(channel)
    if not tracked:
        del service.presences[channel.route]
    _diff(channel, {}, {channel.presence_key: {"metas": [meta]}})
