"""Logs: the server's recent requests and warnings/errors (redacted, see studio.logbook), every
worker's, filterable, and live (server-sent events) while the page is open."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from localbase.studio import logbook
from localbase.studio.render import page, templates

SHOWN = 300
POLL_SECONDS = 1.0
SERVICES = ("rest", "auth", "realtime", "functions", "storage", "other")
LEVELS = ("info", "warning", "error")


@dataclass(frozen=True)
class Filter:
    kind: str = ""  # request, log or "" for both
    level: str = ""  # at least this level
    service: str = ""
    text: str = ""

    @classmethod
    def of(cls, request: Request) -> Filter:
        q = request.query_params
        return cls(q.get("kind", "") if q.get("kind") in ("request", "log") else "",
                   q.get("level", "") if q.get("level") in LEVELS else "",
                   q.get("service", "") if q.get("service") in SERVICES else "", q.get("q", "").strip().lower())

    def keeps(self, e: dict[str, Any]) -> bool:
        if self.kind and e.get("kind") != self.kind:
            return False
        if self.level and LEVELS.index(e.get("level", "info") if e.get("level") in LEVELS else "error") \
                < LEVELS.index(self.level):
            return False
        if self.service and e.get("kind") == "request" and e.get("service") != self.service:
            return False
        if self.service and e.get("kind") == "log":
            return False
        if self.text:
            haystack = " ".join(str(e.get(k, "")) for k in ("path", "query", "msg", "logger", "exc", "method",
                                                            "status")).lower()
            return self.text in haystack
        return True


def _all(request: Request) -> list[dict[str, Any]]:
    entries = logbook.current().entries()
    entries += logbook.read_others(request.app.state.settings.data_dir)
    entries.sort(key=lambda e: e.get("ts", 0))
    return entries


async def index(request: Request) -> HTMLResponse:
    chosen = Filter.of(request)
    entries = [e for e in _all(request) if chosen.keeps(e)][-SHOWN:]
    entries.reverse()
    return page(request, "logs.html", title="Logs", active="logs", entries=entries, f=chosen, services=SERVICES,
                levels=LEVELS, query=request.url.query)


async def stream(request: Request) -> Response:
    chosen = Filter.of(request)
    server = request.app.state.server
    row = templates.get_template("_log_entry.html")

    async def events() -> AsyncIterator[str]:
        follower = logbook.Follower(request.app.state.settings.data_dir)
        while not (server is not None and server.should_exit):
            await asyncio.sleep(POLL_SECONDS)
            fresh = [e for e in follower.new() if chosen.keeps(e)]
            for e in fresh:
                yield f"data: {orjson.dumps({'html': row.render(e=e)}).decode()}\n\n"
            if not fresh:
                yield ": keep-alive\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"x-accel-buffering": "no"})


def routes() -> list[Route]:
    return [Route("/logs", index), Route("/logs/stream", stream)]
