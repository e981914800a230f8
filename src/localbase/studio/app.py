"""Studio's ASGI app: the pages, the static files, the guard in front of them all."""

from __future__ import annotations

import contextlib

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from localbase.database.pool import UNAVAILABLE
from localbase.settings import Settings
from localbase.studio import render
from localbase.studio.errors import StudioError
from localbase.studio.guard import Guard
from localbase.studio.pages import PAGES
from localbase.studio.runner import Unavailable
from localbase.studio.services import ApiError, Services
from localbase.studio.sessions import LoginLimiter, Sessions


def create_app(settings: Settings, gateway) -> Starlette:
    services = Services(settings, gateway)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        await services.open()
        try:
            yield
        finally:
            for hook in app.state.on_shutdown:
                await hook()
            await services.close()

    routes = [route for page in PAGES for route in page.routes()]
    routes.append(Mount("/static", StaticFiles(directory=str(render.STATIC)), name="static"))
    sessions = Sessions()
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(Guard, studio=settings.studio, sessions=sessions)],
                    exception_handlers={StudioError: _error, ApiError: _error, Unavailable: _error,
                                        **dict.fromkeys(UNAVAILABLE, _error), Exception: _error,
                                        404: _error, 405: _error})
    app.state.settings = settings
    app.state.services = services
    app.state.sessions = sessions
    app.state.login_limiter = LoginLimiter()
    app.state.on_shutdown = []
    app.state.server = None
    return app


async def _error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, StudioError):
        status, message = exc.status, exc.message
    elif isinstance(exc, ApiError):
        status, message = exc.status, exc.message
    elif isinstance(exc, Unavailable):
        status, message = 503, str(exc)
    elif isinstance(exc, UNAVAILABLE):
        status, message = 503, f"the database is unavailable ({type(exc).__name__}); try again shortly"
    elif not isinstance(exc, HTTPException):  # a bug: the server logs it with its traceback
        status, message = 500, f"unexpected error ({type(exc).__name__}); it is in the server's log"
    else:
        status = getattr(exc, "status_code", 500)
        message = "no such page" if status == 404 else "method not allowed" if status == 405 else "error"
    if "studio_session" not in request.scope.get("state", {}):
        return HTMLResponse(f"<p>{message}</p>", status_code=status)
    if render.fragment_request(request):
        return render.templates.TemplateResponse(request, "_error.html", {"message": message, "status": status},
                                                 status_code=status)
    return render.page(request, "error.html", status, message=message, active="")
