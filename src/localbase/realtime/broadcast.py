"""Broadcast stage: low-latency messages between the clients joined to a topic, from a client
(`broadcast` push, with the channel's `self` and `ack` options) or from the REST endpoint
(`POST /realtime/v1/api/broadcast`, and `/api/broadcast/{topic}/events/{event}`).
With several workers, `send` also hands it to the bus (realtime.bus) for the others' clients.

A binary payload (a vsn 2.0.0 binary push, or `application/octet-stream` over HTTP, as
realtime-js `httpSend(event, Uint8Array)` sends it) travels as `{"type", "event", BINARY:
base64}` and reaches vsn 2.0.0 subscribers as a binary "user broadcast" frame; vsn 1.0.0 (JSON)
subscribers cannot receive it, as on Supabase."""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from localbase.database.pool import UNAVAILABLE
from localbase.realtime import private as private_channels
from localbase.security import jwt

if TYPE_CHECKING:
    from localbase.realtime.channels import Channel
    from localbase.realtime.service import Realtime

log = logging.getLogger("localbase.realtime")
MAX_MESSAGES = 1000
BINARY = "binary"  # a message's binary payload, base64 (JSON-safe, for the bus too)
USER_BROADCAST = 4  # the vsn 2.0.0 binary frame kind of a broadcast to a client


def binary_message(event: str, data: bytes) -> dict[str, Any]:
    return {"type": "broadcast", "event": event, BINARY: base64.b64encode(data).decode()}


def user_broadcast_frame(topic: str, event: str, data: bytes) -> bytes:
    """A vsn 2.0.0 "user broadcast": kind 4, the byte lengths of topic, event and metadata (none),
    the payload encoding (0: binary), those fields, then the payload."""
    t, e = topic.encode(), event.encode()
    return bytes((USER_BROADCAST, len(t), len(e), 0, 0)) + t + e + data


def deliver(service: Realtime, topic: str, payload: dict[str, Any], sender: Channel | None = None,
            xid: int | None = None) -> int:
    """Send a broadcast to every channel joined to `topic`; returns how many got it. `xid`: the
    transaction that stored it (realtime.send()), for channels replaying stored messages."""
    members = service.topics.get(topic)
    if not members:
        return 0
    binary = payload.get(BINARY)
    if binary is not None:
        return _deliver_binary(service, members, payload["event"], base64.b64decode(binary), sender)
    body = orjson.dumps(payload)
    sent = 0
    for channel in list(members):
        if channel is sender and sender is not None and not sender.broadcast_self:
            continue
        conn = channel.conn
        frame = conn.frame_raw(channel.topic_json, b"broadcast", body)
        if xid is not None and channel.replay_gate is not None and channel.replay_gate.stops(xid, frame):
            continue
        if conn.send(frame):
            sent += 1
    service.stats["broadcasts"] += 1
    return sent


def _deliver_binary(service: Realtime, members, event: str, data: bytes, sender: Channel | None) -> int:
    sent = 0
    for channel in list(members):
        if channel is sender and sender is not None and not sender.broadcast_self:
            continue
        conn = channel.conn
        if not conn.binary_frames:  # a JSON (vsn 1.0.0) client has no frame for it
            service.stats["binary_broadcasts_undeliverable"] += 1
            continue
        if conn.send(user_broadcast_frame(channel.topic, event, data)):
            sent += 1
    service.stats["broadcasts"] += 1
    return sent


def send(service: Realtime, topic: str, payload: dict[str, Any], sender: Channel | None = None) -> int:
    """Deliver to this worker's clients, and publish to the other workers'."""
    if service.bus is not None:
        service.bus.broadcast(topic, payload)
    return deliver(service, topic, payload, sender)


async def from_client(channel: Channel, payload: Any, ref: str | None) -> None:
    conn = channel.conn
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
        return conn.reply(channel.topic, ref, channel.join_ref, "error", {"reason": "invalid broadcast"})
    if not await channel.may_send("broadcast"):  # a private channel whose policies refuse INSERT
        conn.service.stats["broadcasts_refused"] += 1
        if channel.broadcast_ack:
            conn.reply(channel.topic, ref, channel.join_ref, "error", {"reason": _unauthorized(channel.subtopic)})
        return
    if BINARY in payload:
        message = {"type": "broadcast", "event": payload["event"], BINARY: payload[BINARY]}
    else:
        message = {"type": "broadcast", "event": payload["event"], "payload": payload.get("payload", {})}
    send(conn.service, channel.route, message, sender=channel)
    if channel.broadcast_ack:
        conn.reply(channel.topic, ref, channel.join_ref, "ok", {})


def _unauthorized(topic: str) -> str:
    return f"Unauthorized: You do not have permissions to write to this Channel topic: {topic}"


async def _refused(request: Request, claims: dict[str, Any], topics: set[str]) -> Response | None:
    """Private messages over HTTP: the caller's policies must allow INSERT on each topic (403;
    503 while the database cannot be asked)."""
    from localbase.realtime.channels import context_of
    service: Realtime = request.app.state.realtime
    try:
        context = context_of(claims, claims.get("role"))
    except jwt.JWTError as exc:
        return JSONResponse({"message": exc.reason}, status_code=401)
    for topic in sorted(topics):
        try:
            allowed = await private_channels.may_write(service.pool, context, topic, "broadcast")
        except UNAVAILABLE as exc:
            log.warning("realtime: checking broadcast write access to %s failed: %s", topic, exc)
            return JSONResponse({"message": "Database unavailable, retry shortly"}, status_code=503)
        if not allowed:
            return JSONResponse({"message": _unauthorized(topic)}, status_code=403)
    return None


def _caller(request: Request) -> dict[str, Any] | Response:
    """The caller's verified claims (Authorization bearer, else the JWT of the API key)."""
    service: Realtime = request.app.state.realtime
    auth = request.headers.get("authorization", "")
    token = auth[7:] if auth.lower().startswith("bearer ") else (request.scope.get("state", {}).get("apikey_token")
                                                                  or "")
    try:
        return jwt.verify(token, service.settings.keyring)
    except jwt.JWTError as exc:
        return JSONResponse({"message": exc.reason}, status_code=401)


async def endpoint(request: Request) -> Response:
    """`{"messages": [{"topic", "event", "payload", "private"?}]}` -> 202."""
    claims = _caller(request)
    if isinstance(claims, Response):
        return claims
    try:
        body = orjson.loads(await request.body())
        messages = body["messages"]
        if not isinstance(messages, list) or len(messages) > MAX_MESSAGES:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"message": "expected {\"messages\": [{\"topic\", \"event\", \"payload\"}]}"},
                            status_code=400)
    service: Realtime = request.app.state.realtime
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("topic"), str) or not isinstance(m.get("event"), str):
            return JSONResponse({"message": "each message needs a topic and an event"}, status_code=400)
    refused = await _refused(request, claims, {m["topic"] for m in messages if m.get("private")})
    if refused is not None:
        return refused
    for m in messages:
        send(service, private_channels.route("realtime:" + m["topic"], bool(m.get("private"))),
             {"type": "broadcast", "event": m["event"], "payload": m.get("payload", {})})
    return Response(status_code=202)


async def endpoint_one(request: Request) -> Response:
    """`POST /api/broadcast/{topic}/events/{event}` with the payload as the body -> 202."""
    claims = _caller(request)
    if isinstance(claims, Response):
        return claims
    private = request.query_params.get("private") == "true"
    if private:
        refused = await _refused(request, claims, {request.path_params["topic"]})
        if refused is not None:
            return refused
    raw = await request.body()
    event = request.path_params["event"]
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if kind == "application/octet-stream":
        message = binary_message(event, raw)
    elif kind in ("application/json", ""):
        try:
            message = {"type": "broadcast", "event": event, "payload": orjson.loads(raw) if raw else {}}
        except orjson.JSONDecodeError:
            return JSONResponse({"message": "payload must be JSON"}, status_code=400)
    else:
        return JSONResponse({"error": "Unsupported Media Type. Use application/json or application/octet-stream"},
                            status_code=415)
    service: Realtime = request.app.state.realtime
    send(service, private_channels.route("realtime:" + request.path_params["topic"], private), message)
    return Response(status_code=202)
