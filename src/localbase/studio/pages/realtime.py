"""Realtime inspector: join a channel as a chosen identity (server-side, see studio.relay) and watch
postgres_changes, broadcast and presence arrive live; send a broadcast, track presence."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from localbase.studio import callers
from localbase.studio.errors import StudioError
from localbase.studio.guard import session_of
from localbase.studio.pages.common import form, services, text
from localbase.studio.relay import Relay, Relays
from localbase.studio.render import page, templates

EVENTS = ("*", "INSERT", "UPDATE", "DELETE")
ROLES = {"anon": "anon", "user": "a user (authenticated)", "service_role": "service_role"}
KEEPALIVE_SECONDS = 15.0


def relays(request: Request) -> Relays:
    state = request.app.state
    if getattr(state, "relays", None) is None:
        state.relays = Relays()
        state.on_shutdown.append(state.relays.close_all)
    return state.relays


async def index(request: Request) -> HTMLResponse:
    tables = sorted(f"{t.schema}.{t.name}" for t in services(request).schema.tables.values() if not t.is_view)
    return page(request, "realtime.html", title="Realtime", active="realtime", events=EVENTS, roles=ROLES,
                tables=tables)


def _json(raw: str, what: str):
    try:
        return orjson.loads(raw or "{}")
    except orjson.JSONDecodeError:
        raise StudioError(400, f"the {what} is not valid JSON") from None


async def join(request: Request) -> HTMLResponse:
    svc = services(request)
    data = await form(request)
    topic = text(data, "topic").strip()
    if not topic:
        raise StudioError(400, "name the channel to join")
    role = text(data, "role", "anon")
    if role not in ROLES:
        raise StudioError(400, f"join as one of {', '.join(ROLES)}")
    try:
        user_id = await callers.resolve_user(svc.db.auth_pool, text(data, "user")) if role == "user" else ""
        identity = callers.Identity.parse(role, user_id)
        token = await callers.token_for(identity, svc.settings, svc.db.auth_pool)
    except (ValueError, LookupError) as exc:
        raise StudioError(400, str(exc)) from None
    changes = None
    if data.get("changes"):
        schema, _, table = text(data, "table").partition(".")
        event = text(data, "event", "*")
        if event not in EVENTS:
            raise StudioError(400, f"unknown event {event!r}")
        changes = {"schema": schema if table else "public", "table": table or schema, "event": event,
                   "filter": text(data, "filter").strip()}
    relay = Relay(topic, identity.label)
    relays(request).add(session_of(request).id, relay)
    try:
        await relay.join(svc.settings, token or "", private=bool(data.get("private")), changes=changes,
                         presence_key=text(data, "presence_key").strip())
    except (TimeoutError, OSError) as exc:
        await relays(request).close(relay.id)
        raise StudioError(502, f"could not join {topic}: {type(exc).__name__} {exc}") from None
    return templates.TemplateResponse(request, "_relay.html", {"relay": relay, "changes": changes})


def _relay(request: Request) -> Relay:
    relay = relays(request).get(session_of(request).id, request.path_params["relay_id"])
    if relay is None or relay.closed:
        raise StudioError(404, "this channel was left (or Studio restarted); join it again")
    return relay


async def stream(request: Request) -> Response:
    relay = _relay(request)
    relay.attached = True
    server = request.app.state.server

    async def events() -> AsyncIterator[str]:
        sent = -1
        try:
            while not relay.closed and not (server is not None and server.should_exit):
                fresh = [e for e in relay.events if e.seq > sent]
                for event in fresh:
                    html = templates.get_template("_rt_event.html").render(event=event)
                    yield f"data: {orjson.dumps({'html': html}).decode()}\n\n"
                    sent = event.seq
                relay.changed.clear()
                try:
                    await asyncio.wait_for(relay.changed.wait(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ": keep-alive\n\n"
        finally:
            await relays(request).close(relay.id)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"x-accel-buffering": "no"})


async def broadcast(request: Request) -> HTMLResponse:
    relay = _relay(request)
    data = await form(request)
    await relay.broadcast(text(data, "event", "message") or "message", _json(text(data, "payload"), "payload"))
    return HTMLResponse('<span class="ok">sent</span>')


async def track(request: Request) -> HTMLResponse:
    relay = _relay(request)
    payload = _json(text(await form(request), "payload"), "presence state")
    if not isinstance(payload, dict):
        raise StudioError(400, "the presence state is a JSON object")
    await relay.track(payload)
    return HTMLResponse('<span class="ok">tracked</span>')


async def leave(request: Request) -> HTMLResponse:
    relay = _relay(request)
    await relays(request).close(relay.id)
    return HTMLResponse('<p class="muted">Left the channel.</p>')


def routes() -> list[Route]:
    return [Route("/realtime", index), Route("/realtime/join", join, methods=["POST"]),
            Route("/realtime/relays/{relay_id}/events", stream),
            Route("/realtime/relays/{relay_id}/broadcast", broadcast, methods=["POST"]),
            Route("/realtime/relays/{relay_id}/track", track, methods=["POST"]),
            Route("/realtime/relays/{relay_id}/leave", leave, methods=["POST"])]
