"""The signed-in user's own endpoints: GET /user, PUT /user, POST /logout."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from localbase.auth import errors, otp, passwords, phone, sessions, tokens, users
from localbase.auth.context import body, endpoint, json, pool, redirect_target, service

SCOPES = ("global", "local", "others")


@endpoint
async def get_user(request: Request) -> Response:
    cfg = service(request).config
    claims = tokens.bearer_claims(request.headers.get("authorization"), cfg)
    async with pool(request).acquire() as conn:
        user = await sessions.current(conn, claims)
    return json(users.to_json(user))


@endpoint
async def update_user(request: Request) -> Response:
    svc = service(request)
    cfg = svc.config
    claims = tokens.bearer_claims(request.headers.get("authorization"), cfg)
    data = await body(request)
    async with pool(request).acquire() as conn:
        user = await sessions.current(conn, claims)
    password = data.get("password")
    new_hash = None
    if password is not None:
        if not isinstance(password, str) or not password:
            raise errors.VALIDATION_FAILED_UNPROCESSABLE("Password update requires a valid password")
        passwords.check_policy(password, cfg)
        if cfg.secure_password_change:
            await _check_reauthentication(request, claims, user, data.get("nonce"))
        if user.get("encrypted_password") and await passwords.verify_password(
                password, user["encrypted_password"], cfg.bcrypt_cost):
            raise errors.SAME_PASSWORD()
        new_hash = await passwords.hash_password(password, cfg.bcrypt_cost)
    meta = data.get("data")
    if meta is not None and not isinstance(meta, dict):
        raise errors.VALIDATION_FAILED("data must be a JSON object")
    new_email = users.normalize_email(data["email"]) if data.get("email") else None
    redirect = redirect_target(cfg, request.query_params.get("redirect_to"))
    async with pool(request).acquire() as conn:
        async with conn.transaction():
            if new_hash is not None:
                await users.set_password(conn, user["id"], new_hash)
            if meta:
                await users.merge_user_metadata(conn, user["id"], meta)
            if new_email and new_email != (user.get("email") or ""):
                await _change_email(conn, request, user, new_email, redirect, data)
            if data.get("phone"):
                await phone.change(conn, svc, user, data)
            updated = await users.reload(conn, user["id"])
    return json(users.to_json(updated))


@endpoint
async def reauthenticate(request: Request) -> Response:
    """GET /reauthenticate: mail the signed-in user a code (the `nonce` a secure password change asks for)."""
    svc = service(request)
    cfg, limits = svc.config, svc.config.rate_limits
    claims = tokens.bearer_claims(request.headers.get("authorization"), cfg)
    async with pool(request).acquire() as conn:
        user = await sessions.current(conn, claims)
        if not user.get("email"):
            raise errors.VALIDATION_FAILED_UNPROCESSABLE("Reauthentication requires the user to have an email")
        await svc.limiter.hit("email_sent", user["email"], limits.email_sent, 3600,
                              errors.OVER_EMAIL_SEND_RATE_LIMIT, conn=conn)
        async with conn.transaction():
            await otp.issue(conn, cfg, user, "reauthentication", cfg.site_url)
    return json({})


REAUTHENTICATION_AFTER = 24 * 3600  # a session older than this needs the nonce to change the password


async def _check_reauthentication(request: Request, claims: dict, user: dict, nonce) -> None:
    """With [auth.email] secure_password_change: a session signed in more than 24 h ago changes
    the password only with the code GET /reauthenticate mailed (GoTrue's rule)."""
    async with pool(request).acquire() as conn:
        fresh = await conn.fetchval(
            "select created_at > now() - make_interval(secs => $2) from auth.sessions where id = $1::uuid",
            str(claims.get("session_id") or "00000000-0000-0000-0000-000000000000"), float(REAUTHENTICATION_AFTER))
        if fresh:
            return
        if not nonce or not isinstance(nonce, str):
            raise errors.REAUTHENTICATION_NEEDED()
        try:
            async with conn.transaction():
                await otp.consume(conn, service(request).config, "reauthentication", email=user.get("email"),
                                  otp=nonce, nonce=True)
        except errors.AuthError:
            raise errors.REAUTHENTICATION_NOT_VALID() from None


async def _change_email(conn, request: Request, user: dict, new_email: str, redirect: str, data: dict) -> None:
    svc = service(request)
    cfg, limits = svc.config, svc.config.rate_limits
    taken = await users.by_email(conn, new_email)
    if taken is not None and taken["id"] != user["id"]:
        raise errors.EMAIL_EXISTS()
    if cfg.autoconfirm:
        await users.set_email(conn, user["id"], new_email, confirmed=True)
        return
    await svc.limiter.hit("email_sent", new_email, limits.email_sent, 3600,
                    errors.OVER_EMAIL_SEND_RATE_LIMIT, conn=conn)
    await otp.issue(conn, cfg, user, "email_change", redirect, address=new_email, pkce=otp.pkce_params(data))


@endpoint
async def logout(request: Request) -> Response:
    cfg = service(request).config
    scope = request.query_params.get("scope", "global")
    if scope not in SCOPES:
        raise errors.VALIDATION_FAILED(f"Unsupported logout scope {scope!r}")
    claims = tokens.bearer_claims(request.headers.get("authorization"), cfg)
    async with pool(request).acquire() as conn:
        user = await sessions.current(conn, claims)
        await sessions.logout(conn, user["id"], claims.get("session_id"), scope)
    return Response(status_code=204)
