"""Auth: users (search, create, invite, ban/unban, delete, reset MFA; identities, factors and
sessions), the local mailbox and the text messages' outbox. Every change is a call to the Auth admin
API, in-process, as the service role - the same code path as supabase.auth.admin.* in an app."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from localbase.studio import people
from localbase.studio.errors import StudioError
from localbase.studio.pages.common import form, services, text
from localbase.studio.render import navigate, page

BAN_CHOICES = {"1h": "1 hour", "24h": "24 hours", "168h": "7 days", "720h": "30 days", "876000h": "until unbanned"}


def _user_id(request: Request) -> str:
    try:
        return str(uuid.UUID(request.path_params["user_id"]))
    except ValueError:
        raise StudioError(404, "no such user") from None


async def index(request: Request) -> HTMLResponse:
    svc = services(request)
    query = request.query_params.get("q", "")
    number = int(request.query_params.get("page") or 1) if (request.query_params.get("page") or "1").isdigit() else 1
    found, total = await people.search(svc.db.auth_pool, query, number)
    return page(request, "auth.html", title="Auth", active="auth", users=found, total=total, q=query,
                page_number=number, pages=max(1, -(-total // people.PER_PAGE)))


async def user(request: Request) -> HTMLResponse:
    svc = services(request)
    uid = _user_id(request)
    data = await svc.auth("GET", f"/admin/users/{uid}")
    sessions = await people.sessions_of(svc.db.auth_pool, uid)
    return page(request, "auth_user.html", title=data.get("email") or uid, active="auth", user=data,
                sessions=sessions, bans=BAN_CHOICES)


async def create(request: Request) -> HTMLResponse:
    svc = services(request)
    data = await form(request)
    body = {"email": text(data, "email").strip(), "email_confirm": bool(data.get("email_confirm"))}
    if text(data, "password"):
        body["password"] = text(data, "password")
    created = await svc.auth("POST", "/admin/users", json=body)
    return navigate(f"/auth/users/{created['id']}")


async def invite(request: Request) -> HTMLResponse:
    svc = services(request)
    data = await form(request)
    email = text(data, "email").strip()
    invited = await svc.auth("POST", "/invite", json={"email": email})
    return navigate(f"/auth/users/{invited['id']}")


async def ban(request: Request) -> HTMLResponse:
    svc = services(request)
    uid = _user_id(request)
    duration = text(await form(request), "duration", "876000h")
    if duration not in BAN_CHOICES and duration != "none":
        raise StudioError(400, f"unknown ban duration {duration!r}")
    await svc.auth("PUT", f"/admin/users/{uid}", json={"ban_duration": duration})
    return navigate(f"/auth/users/{uid}")


async def reset_mfa(request: Request) -> HTMLResponse:
    svc = services(request)
    uid = _user_id(request)
    for factor in await svc.auth("GET", f"/admin/users/{uid}/factors"):
        await svc.auth("DELETE", f"/admin/users/{uid}/factors/{factor['id']}")
    return navigate(f"/auth/users/{uid}")


async def delete(request: Request) -> HTMLResponse:
    svc = services(request)
    uid = _user_id(request)
    await svc.auth("DELETE", f"/admin/users/{uid}", json={})
    return navigate("/auth")


async def _local_messages(request: Request, box: str, by: str) -> tuple[str, list[dict]]:
    """The last 100 messages of the auth service's local `box` (mailbox, outbox), to `by` if asked."""
    recipient = request.query_params.get(by, "").strip()
    params = {"limit": "100", **({by: recipient} if recipient else {})}
    return recipient, (await services(request).auth("GET", f"/localbase/{box}", params=params))["messages"]


async def mailbox(request: Request) -> HTMLResponse:
    email, messages = await _local_messages(request, "mailbox", "email")
    return page(request, "mailbox.html", title="Mailbox", active="auth", messages=messages, email=email,
                smtp=services(request).auth_config.smtp is not None)


async def texts(request: Request) -> HTMLResponse:
    """The text messages (phone codes) Localbase "sent": the outbox that stands in for an SMS provider."""
    phone, messages = await _local_messages(request, "outbox", "phone")
    return page(request, "outbox.html", title="Text messages", active="auth", messages=messages, phone=phone,
                phone_signup=services(request).auth_config.sms.enable_signup)


def routes() -> list[Route]:
    return [Route("/auth", index), Route("/auth/mailbox", mailbox), Route("/auth/texts", texts),
            Route("/auth/users", create, methods=["POST"]), Route("/auth/invite", invite, methods=["POST"]),
            Route("/auth/users/{user_id}", user),
            Route("/auth/users/{user_id}/ban", ban, methods=["POST"]),
            Route("/auth/users/{user_id}/mfa/reset", reset_mfa, methods=["POST"]),
            Route("/auth/users/{user_id}/delete", delete, methods=["POST"])]



