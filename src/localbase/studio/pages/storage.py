"""Storage: not in this Localbase yet. The page says so (a Storage service is being built; when it
lands, buckets and a file browser go here)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from localbase.studio.render import page


async def index(request: Request) -> HTMLResponse:
    return page(request, "storage.html", title="Storage", active="storage")


def routes() -> list[Route]:
    return [Route("/storage", index)]
