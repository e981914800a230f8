"""Mail-based flows: POST /otp (magic link / code), POST /recover, POST /resend, and
POST /verify (a code or token hash -> a session) and GET /verify (the link in a mail -> a redirect
carrying the session in the URL fragment, or `?code=` for PKCE)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from localbase.auth import errors, otp, phone, sessions, users
from localbase.auth.context import body, client_ip, endpoint, json, pool, redirect_target, service


async def _limit_mail(request: Request, email: str) -> None:
    svc = service(request)
    limits = svc.config.rate_limits
    await svc.limiter.hit("email_sent", email, limits.email_sent, 3600,
                    errors.OVER_EMAIL_SEND_RATE_LIMIT)


@endpoint
async def send_otp(request: Request) -> Response:
    cfg = service(request).config
    data = await body(request)
    if data.get("phone") and data.get("email"):
        raise errors.VALIDATION_FAILED("Only an email address or phone number should be provided")
    if data.get("phone"):
        return await phone.send_otp(request, data)
    email = users.normalize_email(data.get("email"))
    await _limit_mail(request, email)
    pkce = otp.pkce_params(data)
    redirect = redirect_target(cfg, request.query_params.get("redirect_to"))
    meta = data.get("data") if isinstance(data.get("data"), dict) else {}
    async with pool(request).acquire() as conn:
        async with conn.transaction():
            user = await users.by_email(conn, email)
            if user is None:
                if data.get("create_user") is False or not (cfg.enable_signup and cfg.enable_email_signup):
                    raise errors.OTP_DISABLED()
                user = await users.create(conn, email=email, encrypted_password=None, user_metadata=meta)
            if users.is_banned(user):
                raise errors.USER_BANNED()
            await otp.issue(conn, cfg, user, "magiclink", redirect, pkce=pkce)
    return json({"message_id": None})


@endpoint
async def recover(request: Request) -> Response:
    cfg = service(request).config
    data = await body(request)
    email = users.normalize_email(data.get("email"))
    await _limit_mail(request, email)
    pkce = otp.pkce_params(data)
    redirect = redirect_target(cfg, request.query_params.get("redirect_to"))
    async with pool(request).acquire() as conn:
        async with conn.transaction():
            user = await users.by_email(conn, email)
            if user is not None and user.get("deleted_at") is None:  # no answer reveals whether it exists
                await otp.issue(conn, cfg, user, "recovery", redirect, pkce=pkce)
    return json({})


@endpoint
async def resend(request: Request) -> Response:
    cfg = service(request).config
    data = await body(request)
    kind = data.get("type")
    if kind not in ("signup", "email_change", "sms", "phone_change"):
        raise errors.VALIDATION_FAILED("Missing one of these types: signup, email_change, sms, phone_change")
    if kind in ("sms", "phone_change"):
        return await phone.resend(request, data, kind)
    email = users.normalize_email(data.get("email"))
    await _limit_mail(request, email)
    redirect = redirect_target(cfg, request.query_params.get("redirect_to"))
    async with pool(request).acquire() as conn:
        async with conn.transaction():
            user = await users.by_email(conn, email)
            if user is None:
                return json({"message_id": None})
            if kind == "signup" and user.get("email_confirmed_at") is None:
                await otp.issue(conn, cfg, user, "signup", redirect, pkce=otp.pkce_params(data))
            elif kind == "email_change" and user.get("email_change"):
                await otp.issue(conn, cfg, user, "email_change", redirect, address=user["email_change"],
                                pkce=otp.pkce_params(data))
    return json({"message_id": None})


async def _verify(request: Request, verify_type: str, *, token_hash: str | None = None,
                  email: str | None = None, code: str | None = None,
                  start_session: bool = True) -> tuple[dict[str, Any] | None, uuid.UUID]:
    """Consume the token, apply its effect, start a session (unless a PKCE code will be
    exchanged for one later). Returns (session, user_id)."""
    svc = service(request)
    async with pool(request).acquire() as conn:
        async with conn.transaction():
            user_id, token_type, relates_to = await otp.consume(
                conn, svc.config, verify_type, token_hash=token_hash, email=email, otp=code)
            user = await users.by_id(conn, user_id)
            if user is None:
                raise errors.OTP_EXPIRED()
            if users.is_banned(user):
                raise errors.USER_BANNED()
            if token_type == "email_change_token_new":
                await users.set_email(conn, user_id, user.get("email_change") or relates_to, confirmed=True)
            else:
                await users.confirm_email(conn, user_id)
            if not start_session:
                return None, user_id
            user = await users.reload(conn, user_id)
            session = await sessions.start(conn, svc.config, user, "otp", ip=client_ip(request),
                                           user_agent=request.headers.get("user-agent"))
    return session, user_id


@endpoint
async def verify_post(request: Request) -> Response:
    data = await body(request)
    verify_type = data.get("type")
    if data.get("phone") and not data.get("token_hash"):
        return await phone.verify(request, data)
    if not isinstance(verify_type, str):
        raise errors.VALIDATION_FAILED("Verify requires a verification type")
    token_hash = data.get("token_hash")
    email = data.get("email")
    code = data.get("token")
    session, _ = await _verify(request, verify_type, token_hash=token_hash if isinstance(token_hash, str) else None,
                               email=email if isinstance(email, str) else None,
                               code=code if isinstance(code, str) else None)
    return json(session)


@endpoint
async def verify_get(request: Request) -> Response:
    """The link in a mail. Errors go back to the app in the URL fragment, as GoTrue does."""
    cfg = service(request).config
    params = request.query_params
    redirect = redirect_target(cfg, params.get("redirect_to"))
    token, verify_type = params.get("token", ""), params.get("type", "")
    try:
        pkce = token.startswith(otp.PKCE_PREFIX)
        session, user_id = await _verify(request, verify_type, token_hash=token, start_session=not pkce)
        if session is None:
            async with pool(request).acquire() as conn:
                code = await otp.flow_code(conn, user_id, verify_type)
            if not code:
                raise errors.FLOW_STATE_NOT_FOUND()
            return RedirectResponse(_with(redirect, "?", {"code": code}), status_code=303)
        fragment = {k: session[k] for k in ("access_token", "expires_at", "expires_in", "refresh_token",
                                            "token_type")}
        fragment["type"] = verify_type
        return RedirectResponse(_with(redirect, "#", fragment), status_code=303)
    except errors.AuthError as exc:
        if exc.status == 429:
            return errors.error_response(request, exc)
        fragment = {"error": "access_denied", "error_code": exc.error_code,
                    "error_description": "Email link is invalid or has expired"
                    if exc.error_code == errors.OTP_EXPIRED.error_code else exc.msg}
        return RedirectResponse(_with(redirect, "#", fragment), status_code=303)


def _with(url: str, sep: str, params: dict[str, Any]) -> str:
    if sep == "?" and "?" in url.split("#")[0]:
        sep = "&"
    return f"{url}{sep}{urlencode({k: str(v) for k, v in params.items()})}"
