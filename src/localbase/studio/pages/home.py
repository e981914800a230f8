"""The front door: / (to the tables), the login form and logging out."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from localbase.studio.config import verify_password
from localbase.studio.guard import clear_cookie, cookie_name, login_cookie, session_of
from localbase.studio.pages.common import form, text
from localbase.studio.render import page


async def home(request: Request) -> Response:
    return RedirectResponse("/tables", status_code=303)


def _next(value: str | None) -> str:
    """Where to go after logging in: a path of Studio's own, never another site."""
    parts = urlsplit(value or "/")
    if parts.scheme or parts.netloc or not (value or "/").startswith("/") or (value or "").startswith("//"):
        return "/"
    return value or "/"


async def login_form(request: Request) -> Response:
    if not request.app.state.settings.studio.login_required:
        return RedirectResponse("/", status_code=303)
    return page(request, "login.html", title="Log in", active="", next=_next(request.query_params.get("next")))


async def login(request: Request) -> Response:
    studio = request.app.state.settings.studio
    if not studio.login_required:
        return RedirectResponse("/", status_code=303)
    limiter = request.app.state.login_limiter
    client = request.client.host if request.client else ""
    data = await form(request)
    target = _next(text(data, "next"))
    wait = limiter.wait(client)
    if wait > 0:
        return page(request, "login.html", 429, title="Log in", active="", next=target,
                    error=f"Too many wrong passwords: try again in {int(wait) + 1} s.")
    if not await asyncio.to_thread(verify_password, text(data, "password"), studio.password_hash):
        limiter.failed(client)
        return page(request, "login.html", 401, title="Log in", active="", next=target, error="Wrong password.")
    limiter.succeeded(client)
    sessions = request.app.state.sessions
    old = session_of(request)
    sessions.drop(old.id)  # a new id once logged in: a session id known before cannot be promoted
    session = sessions.new(authenticated=True)
    response = RedirectResponse(target, status_code=303)
    response.headers.append("set-cookie", login_cookie(cookie_name(request.scope), session.id,
                                                       request.url.scheme == "https"))
    return response


async def logout(request: Request) -> Response:
    request.app.state.sessions.drop(session_of(request).id)
    response = RedirectResponse("/login" if request.app.state.settings.studio.login_required else "/",
                                status_code=303)
    response.headers.append("set-cookie", clear_cookie(cookie_name(request.scope)))
    return response


def routes() -> list[Route]:
    return [Route("/", home), Route("/login", login_form), Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"])]
