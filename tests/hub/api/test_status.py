"""GET /: the system's status - this service's name and version, and whether its backend and the
backend's Auth answer; never a key."""

from __future__ import annotations

import httpx

from efficiency_hub import __version__
from efficiency_hub.api import create_app
from efficiency_hub.settings import HubSettings
from localbase.testing.server import free_port


async def test_the_status_of_a_running_system(api, hub_server):
    answer = await api.get("/")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"name": "Efficiency Hub", "version": __version__, "status": "ok",
                             "backend": {"url": hub_server.url, "reachable": True}, "auth": {"reachable": True},
                             "docs": "/docs"}
    assert hub_server.anon_key not in answer.text and hub_server.service_role_key not in answer.text


async def test_an_unreachable_backend_is_reported_as_such():
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    app = create_app(HubSettings(down, "an-anon-key"))
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as client:
        answer = await client.get("/")
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "degraded" and body["backend"] == {"url": down, "reachable": False}
    assert body["auth"] == {"reachable": False} and "an-anon-key" not in answer.text
