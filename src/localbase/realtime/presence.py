"""Presence stage: per topic, who is here (`track` / `untrack` pushes), sent to every member as
Phoenix Presence does: the whole state on join (`presence_state`), then diffs (`presence_diff`)
`{"joins": {key: {"metas": [...]}}, "leaves": {...}}`, each meta carrying its `phx_ref`.
A channel tracks one meta under its presence key (config.presence.key, or a random one);
tracking again replaces it (`phx_ref_prev` names the one replaced)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localbase.realtime.channels import Channel
    from localbase.realtime.service import Realtime


def _state(service: "Realtime", topic: str) -> dict[str, dict[str, list]]:
    state: dict[str, dict[str, list]] = {}
    for member, meta in service.presences.get(topic, {}).items():
        state.setdefault(member.presence_key, {"metas": []})["metas"].append(meta)
    return state


def send_state(channel: "Channel") -> None:
    conn = channel.conn
    conn.push(channel.topic, "presence_state", _state(conn.service, channel.topic), channel.join_ref)


def _diff(channel: "Channel", joins: dict, leaves: dict) -> None:
    service = channel.conn.service
    for member in list(service.topics.get(channel.topic, ())):
        member.conn.push(member.topic, "presence_diff", {"joins": joins, "leaves": leaves}, member.join_ref)
    service.stats["presence_diffs"] += 1


def from_client(channel: "Channel", payload: Any, ref: str | None) -> None:
    conn = channel.conn
    if not isinstance(payload, dict) or payload.get("event") not in ("track", "untrack"):
        return conn.reply(channel.topic, ref, channel.join_ref, "error", {"reason": "invalid presence event"})
    if payload["event"] == "track":
        meta = payload.get("payload") or {}
        if not isinstance(meta, dict):
            return conn.reply(channel.topic, ref, channel.join_ref, "error", {"reason": "presence payload must be an object"})
        track(channel, meta)
    else:
        forget(channel)
    conn.reply(channel.topic, ref, channel.join_ref, "ok", {})


def track(channel: "Channel", meta: dict[str, Any]) -> None:
    tracked = channel.conn.service.presences.setdefault(channel.topic, {})
    previous = tracked.get(channel)
    new_meta = {**meta, "phx_ref": uuid.uuid4().hex[:20]}
    leaves = {}
    if previous is not None:
        new_meta["phx_ref_prev"] = previous["phx_ref"]
        leaves = {channel.presence_key: {"metas": [previous]}}
    tracked[channel] = new_meta
    _diff(channel, {channel.presence_key: {"metas": [new_meta]}}, leaves)


def forget(channel: "Channel") -> None:
    service = channel.conn.service
    tracked = service.presences.get(channel.topic)
    if not tracked or channel not in tracked:
        return
    meta = tracked.pop(channel)
    if not tracked:
        del service.presences[channel.topic]
    _diff(channel, {}, {channel.presence_key: {"metas": [meta]}})
