"""Who may call an auth route, and how often: declared with the route in auth/routes.py (as GoTrue's
router declares `r.With(api.requireAdmin)` and `r.With(api.limitHandler(...))`), checked before its
handler runs. Limits keyed by something in the body (an address's sign-ins, mails sent to it) need
the parsed, normalised body and stay with the handlers that have it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from localbase.auth import errors, tokens
from localbase.auth.context import Handler, apikey_role, body, client_ip, endpoint, service

ADMIN_ROLES = ("service_role", "supabase_admin")  # GoTrue's default admin roles


@dataclass(frozen=True, slots=True)
class Limit:
    """Requests per client IP, counted in `[auth.rate_limit]`'s bucket of that name."""

    bucket: str
    window_s: int | None = None  # None: the configured window
    when: Callable[[Request], Awaitable[bool]] | None = None  # which requests count (all when None)


@dataclass(frozen=True, slots=True)
class Access:
    admin: bool = False        # a JWT of an admin role (GoTrue's requireAdmin)
    service_key: bool = False  # the service_role API key (Localbase's own mailbox and outbox)
    limits: tuple[Limit, ...] = ()


PUBLIC = Access()


def require_admin(request: Request) -> None:
    claims = tokens.bearer_claims(request.headers.get("authorization"), service(request).config)
    if claims.get("role") not in ADMIN_ROLES:
        raise errors.NOT_ADMIN()


def grant_is(*grants: str) -> Callable[[Request], Awaitable[bool]]:
    async def when(request: Request) -> bool:
        return request.query_params.get("grant_type") in grants
    return when


async def anonymous_sign_up(request: Request) -> bool:
    """A sign-up without an email or phone: an anonymous user."""
    data = await body(request)
    return not data.get("email") and not data.get("phone")


async def named_sign_up(request: Request) -> bool:
    return not await anonymous_sign_up(request)


def guarded(handler: Handler, access: Access) -> Handler:
    """`handler` behind its access rules; the handler itself when it has none."""
    if access == PUBLIC:
        return handler

    @endpoint
    async def checked(request: Request) -> Response:
        if access.service_key and apikey_role(request) != "service_role":
            raise errors.NOT_ADMIN(f"The {request.url.path.rsplit('/', 1)[-1]} needs the service_role key")
        if access.admin:
            require_admin(request)
        if access.limits:
            svc = service(request)
            limits = svc.config.rate_limits
            for limit in access.limits:
                allowed = getattr(limits, limit.bucket)
                if allowed <= 0:  # the limit is off: which requests it counts need not be asked
                    continue
                if limit.when is None or await limit.when(request):
                    await svc.limiter.hit(limit.bucket, client_ip(request), allowed, limit.window_s or limits.window_s)
        return await handler(request)

    checked.__name__ = getattr(handler, "__name__", "checked")
    checked.access = access  # type: ignore[attr-defined]  # for reading the route table
    return checked
