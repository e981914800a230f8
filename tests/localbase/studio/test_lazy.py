"""Studio's app is made on its first request (studio/serve.py, LazyStudio): the server starts
without importing its pages or opening its services, the first request makes and opens it (once,
however many arrive together), and the server's shutdown closes it. End to end, every Studio test
(test_login.py, test_pages.py, ...) goes through this path on a real server."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from localbase.studio import app as studio_app
from localbase.studio.serve import LazyStudio


async def _lifespan(app: LazyStudio, events: list[str]):
    """Drive the ASGI lifespan protocol as uvicorn does: startup now, shutdown when told."""
    inbox: asyncio.Queue = asyncio.Queue()
    sent: list[str] = []

    async def send(message):
        sent.append(message["type"])

    task = asyncio.create_task(app({"type": "lifespan"}, inbox.get, send))
    await inbox.put({"type": "lifespan.startup"})
    while "lifespan.startup.complete" not in sent:
        await asyncio.sleep(0.001)
    events.append("server started")

    async def shutdown():
        await inbox.put({"type": "lifespan.shutdown"})
        await task
        assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    return shutdown


def test_the_app_is_made_on_the_first_request_once_and_closed_at_shutdown(monkeypatch):
    events: list[str] = []

    def create_app(settings, gateway):
        events.append("made")

        @contextlib.asynccontextmanager
        async def lifespan(app):
            events.append("opened")
            yield
            events.append("closed")

        async def page(request):
            return PlainTextResponse(f"server={request.app.state.server}")
        return Starlette(routes=[Route("/", page)], lifespan=lifespan)

    monkeypatch.setattr(studio_app, "create_app", create_app)

    async def go():
        lazy = LazyStudio(settings=None, gateway=None)
        lazy.server = "the-server"
        shutdown = await _lifespan(lazy, events)
        assert events == ["server started"]  # nothing made or opened yet
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=lazy), base_url="http://studio") as client:
            answers = await asyncio.gather(*(client.get("/") for _ in range(5)))
        assert [a.text for a in answers] == ["server=the-server"] * 5
        assert events == ["server started", "made", "opened"]
        await shutdown()
        assert events == ["server started", "made", "opened", "closed"]

    asyncio.run(go())


def test_a_server_nobody_opened_studio_on_stops_without_making_it(monkeypatch):
    events: list[str] = []
    monkeypatch.setattr(studio_app, "create_app", lambda *a: events.append("made"))

    async def go():
        shutdown = await _lifespan(LazyStudio(settings=None, gateway=None), events)
        await shutdown()

    asyncio.run(go())
    assert events == ["server started"]
