"""POST /signup (email + password, or anonymous) and POST /token (grant_type password,
refresh_token, pkce)."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from localbase.auth import errors, otp, passwords, phone, sessions, users
from localbase.auth.context import body, client_ip, endpoint, json, pool, redirect_target, service

INVALID_CREDENTIALS = "Invalid login credentials"


def _metadata(data: dict[str, Any]) -> dict[str, Any]:
    meta = data.get("data")
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise errors.VALIDATION_FAILED("data must be a JSON object")
    return meta


@endpoint
async def signup(request: Request) -> Response:
    svc = service(request)
    cfg, limits = svc.config, svc.config.rate_limits
    data = await body(request)
    email, password = data.get("email"), data.get("password")
    ip = client_ip(request)
    if not email and not data.get("phone"):
        return await _anonymous(request, data)
    if data.get("phone"):
        return await phone.signup(request, data)
    if not cfg.enable_signup:
        raise errors.SIGNUP_DISABLED()
    if not cfg.enable_email_signup:
        raise errors.EMAIL_PROVIDER_DISABLED()
    email = users.normalize_email(email)
    await svc.limiter.hit("sign_in_sign_ups_email", email, limits.sign_in_sign_ups_per_email, limits.window_s)
    if not isinstance(password, str) or not password:
        raise errors.VALIDATION_FAILED_UNPROCESSABLE("Signup requires a valid password")
    passwords.check_policy(password, cfg)
    meta = _metadata(data)
    pkce = otp.pkce_params(data)
    redirect = redirect_target(cfg, request.query_params.get("redirect_to"))
    hashed = await passwords.hash_password(password, cfg.bcrypt_cost)
    async with pool(request).acquire() as conn:
        async with conn.transaction():
            existing = await users.by_email(conn, email)
            if existing is not None:
                if cfg.autoconfirm:
                    raise errors.USER_ALREADY_EXISTS()
                if existing.get("email_confirmed_at") is not None:
                    # confirmations on: answer as for a new address, so sign-up reveals no account
                    return json(_obfuscated_user(email, meta))
                await svc.limiter.hit("email_sent", email, limits.email_sent, 3600,
                                errors.OVER_EMAIL_SEND_RATE_LIMIT, conn=conn)
                await otp.issue(conn, cfg, existing, "signup", redirect, pkce=pkce)
                return json(users.to_json(await users.reload(conn, existing["id"])))
            user = await users.create(conn, email=email, encrypted_password=hashed, user_metadata=meta,
                                      email_confirmed=cfg.autoconfirm)
            if cfg.autoconfirm:
                session = await sessions.start(conn, cfg, user, "password", ip=ip,
                                               user_agent=request.headers.get("user-agent"))
                return json(session)
            await svc.limiter.hit("email_sent", email, limits.email_sent, 3600,
                            errors.OVER_EMAIL_SEND_RATE_LIMIT, conn=conn)
            await otp.issue(conn, cfg, user, "signup", redirect, pkce=pkce)
            return json(users.to_json(await users.reload(conn, user["id"])))


def _obfuscated_user(email: str, meta: dict[str, Any]) -> dict[str, Any]:
    now = users.now()
    return {"id": str(uuid.uuid4()), "aud": "authenticated", "role": "authenticated", "email": email,
            "phone": "", "confirmation_sent_at": now, "app_metadata": {"provider": "email", "providers": ["email"]},
            "user_metadata": meta, "identities": [], "created_at": now, "updated_at": now,
            "is_anonymous": False}


async def _anonymous(request: Request, data: dict[str, Any]) -> Response:
    svc = service(request)
    cfg = svc.config
    if not cfg.enable_anonymous_sign_ins:
        raise errors.ANONYMOUS_PROVIDER_DISABLED()
    ip = client_ip(request)
    meta = _metadata(data)
    async with pool(request).acquire() as conn:
        async with conn.transaction():
            user = await users.create(conn, email=None, encrypted_password=None, user_metadata=meta,
                                      is_anonymous=True)
            session = await sessions.start(conn, cfg, user, "anonymous", ip=ip,
                                           user_agent=request.headers.get("user-agent"))
    return json(session)


@endpoint
async def token(request: Request) -> Response:
    grant = request.query_params.get("grant_type")
    if grant == "password":
        return await _password(request)
    if grant == "refresh_token":
        svc = service(request)
        data = await body(request)
        presented = data.get("refresh_token")
        async with pool(request).acquire() as conn:
            session = await sessions.refresh(conn, svc.config, presented if isinstance(presented, str) else "")
        return json(session)
    if grant == "pkce":
        return await _pkce(request)
    raise errors.VALIDATION_FAILED("unsupported_grant_type")


async def _password(request: Request) -> Response:
    svc = service(request)
    cfg, limits = svc.config, svc.config.rate_limits
    data = await body(request)
    email, password = data.get("email"), data.get("password")
    ip = client_ip(request)
    if data.get("phone") and email:
        raise errors.VALIDATION_FAILED("Only an email address or phone number should be provided on login.")
    if data.get("phone"):
        return await phone.password_grant(request, data)
    if not isinstance(email, str) or not email or not isinstance(password, str) or not password:
        raise errors.VALIDATION_FAILED("missing email or phone")
    email = email.lower()
    await svc.limiter.hit("sign_in_sign_ups_email", email, limits.sign_in_sign_ups_per_email, limits.window_s)
    async with pool(request).acquire() as conn:
        user = await users.by_email(conn, email)
    ok = await passwords.verify_password(password, user["encrypted_password"] if user else None,
                                         cfg.bcrypt_cost)
    if not ok or user is None or user.get("deleted_at") is not None:
        raise errors.INVALID_CREDENTIALS(INVALID_CREDENTIALS)
    if users.is_banned(user):
        raise errors.USER_BANNED()
    if cfg.enable_confirmations and user.get("email_confirmed_at") is None:
        raise errors.EMAIL_NOT_CONFIRMED()
    async with pool(request).acquire() as conn:
        session = await sessions.start(conn, cfg, user, "password", ip=ip,
                                       user_agent=request.headers.get("user-agent"))
    return json(session)


async def _pkce(request: Request) -> Response:
    svc = service(request)
    data = await body(request)
    code, verifier = data.get("auth_code"), data.get("code_verifier")
    async with pool(request).acquire() as conn:
        async with conn.transaction():
            user_id, method = await otp.exchange(conn, str(code or ""), str(verifier or ""))
            user = await users.by_id(conn, user_id)
            if user is None:
                raise errors.USER_NOT_FOUND()
            if users.is_banned(user):
                raise errors.USER_BANNED()
            session = await sessions.start(conn, svc.config, user, method, ip=client_ip(request),
                                           user_agent=request.headers.get("user-agent"))
    return json(session)
