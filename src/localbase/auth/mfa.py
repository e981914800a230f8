"""Multi-factor authentication with TOTP, as GoTrue answers it (supabase `auth.mfa.*`):

- POST /factors {factor_type: "totp", friendly_name?, issuer?}: a new, unverified factor with its
  secret, otpauth:// URI and QR code (SVG). A user who has a verified factor needs an aal2
  session to add another.
- POST /factors/{id}/challenge: a challenge, valid CHALLENGE_SECONDS.
- POST /factors/{id}/verify {challenge_id, code}: the code of the current 30-second step (or the
  one before or after, for clock drift) answers the challenge once; the factor becomes verified,
  the session aal2 (a `totp` entry in its AMR claims), and a new access and refresh token are
  returned. Refreshing keeps aal2 (tokens read the session's AMR).
- DELETE /factors/{id}: unenrol; a verified factor only from an aal2 session.
- GET /user lists the factors (`factors`), from which the clients compute the next level.

Phone and WebAuthn factors are not offered (422, as a project with them disabled answers).
RLS policies may require `auth.jwt()->>'aal' = 'aal2'`.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from localbase.auth import errors, sessions, tokens, users
from localbase.auth.context import body, client_ip, endpoint, json, pool, service

CHALLENGE_SECONDS = 300
MAX_FACTORS = 10
VERIFY_WINDOW = 1  # steps of 30 s accepted either side of now


async def _caller(request: Request, conn) -> tuple[dict[str, Any], dict[str, Any]]:
    claims = tokens.bearer_claims(request.headers.get("authorization"), service(request).config)
    return claims, await sessions.current(conn, claims)


def _factor_id(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params["factor_id"])
    except ValueError:
        raise errors.MFA_FACTOR_NOT_FOUND() from None


async def _own_factor(conn, user: dict[str, Any], factor_id: uuid.UUID):
    factor = await conn.fetchrow("select * from auth.mfa_factors where id = $1 and user_id = $2", factor_id, user["id"])
    if factor is None:
        raise errors.MFA_FACTOR_NOT_FOUND()
    return factor


def _verified(user: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in user.get("factors") or [] if f.get("status") == "verified"]


@endpoint
async def enroll(request: Request) -> Response:
    cfg = service(request).config
    data = await body(request)
    kind = data.get("factor_type")
    if kind in ("phone", "webauthn"):
        raise errors.MFA_PHONE_ENROLL_NOT_ENABLED() if kind == "phone" else errors.MFA_WEBAUTHN_ENROLL_NOT_ENABLED()
    if kind != "totp":
        raise errors.VALIDATION_FAILED("factor_type needs to be totp, phone or webauthn")
    name = data.get("friendly_name") or ""
    if not isinstance(name, str) or len(name) > 255:
        raise errors.VALIDATION_FAILED("friendly_name must be a string of at most 255 characters")
    issuer = data.get("issuer") or urlsplit(cfg.site_url).hostname or "localbase"
    if not isinstance(issuer, str):
        raise errors.VALIDATION_FAILED("issuer must be a string")
    async with pool(request).acquire() as conn:
        claims, user = await _caller(request, conn)
        if _verified(user) and claims.get("aal") != "aal2":
            raise errors.INSUFFICIENT_AAL()
        if len(user.get("factors") or []) >= MAX_FACTORS:
            raise errors.TOO_MANY_ENROLLED_MFA_FACTORS()
        if name.strip() and any(f.get("friendly_name") == name for f in user.get("factors") or []):
            raise errors.MFA_FACTOR_NAME_CONFLICT(
                f'A factor with the friendly name "{name}" for this user already exists')
        import pyotp  # on the first enrolment
        secret = pyotp.random_base32()
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.get("email") or str(user["id"]), issuer_name=issuer)
        factor_id, ts = uuid.uuid4(), users.now()
        await conn.execute(
            "insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at, "
            "secret) values ($1, $2, $3, 'totp', 'unverified', $4, $4, $5)", factor_id, user["id"], name, ts, secret)
    import segno  # QR codes only at enrolment: not imported before
    qr = segno.make(uri, error="m").svg_inline(scale=4)
    return json({"id": str(factor_id), "type": "totp", "friendly_name": name,
                 "totp": {"qr_code": qr, "secret": secret, "uri": uri}})


@endpoint
async def challenge(request: Request) -> Response:
    async with pool(request).acquire() as conn:
        _, user = await _caller(request, conn)  # first: without a session, 401 whatever the factor
        factor_id = _factor_id(request)
        await _own_factor(conn, user, factor_id)
        challenge_id, ts = uuid.uuid4(), users.now()
        await conn.execute(
            "with c as (insert into auth.mfa_challenges (id, factor_id, created_at, ip_address) "
            "values ($1, $2, $3, $4::inet)) update auth.mfa_factors set last_challenged_at = $3 where id = $2",
            challenge_id, factor_id, ts, sessions.client_inet(client_ip(request)) or "0.0.0.0")
    expires = ts + timedelta(seconds=CHALLENGE_SECONDS)
    return json({"id": str(challenge_id), "type": "totp", "expires_at": int(expires.timestamp())})


@endpoint
async def verify(request: Request) -> Response:
    svc = service(request)
    cfg = svc.config
    tokens.bearer_claims(request.headers.get("authorization"), cfg)  # 401 before anything else
    factor_id = _factor_id(request)
    data = await body(request)
    code, challenge_id = data.get("code"), data.get("challenge_id")
    if not isinstance(code, str) or not isinstance(challenge_id, str):
        raise errors.VALIDATION_FAILED("challenge_id and code are required")
    try:
        challenge_uuid = uuid.UUID(challenge_id)
    except ValueError:
        raise errors.VALIDATION_FAILED("challenge_id must be a UUID") from None
    async with pool(request).acquire() as conn:
        claims, user = await _caller(request, conn)
        async with conn.transaction():
            factor = await _own_factor(conn, user, factor_id)
            found = await conn.fetchrow("select * from auth.mfa_challenges where id = $1 and factor_id = $2 for update",
                                        challenge_uuid, factor_id)
            if found is None:
                raise errors.MFA_CHALLENGE_NOT_FOUND()
            now = users.now()
            if found["verified_at"] is not None or found["created_at"] + timedelta(seconds=CHALLENGE_SECONDS) < now:
                raise errors.MFA_CHALLENGE_EXPIRED(
                    f"MFA challenge {challenge_id} has expired, verify against another challenge or create a new "
                    "challenge.")
            import pyotp
            if not pyotp.TOTP(factor["secret"]).verify(code.strip(), valid_window=VERIFY_WINDOW):
                raise errors.MFA_VERIFICATION_FAILED()
            await conn.execute("update auth.mfa_challenges set verified_at = $2 where id = $1", challenge_uuid, now)
            await conn.execute("update auth.mfa_factors set status = 'verified', updated_at = $2 where id = $1",
                               factor_id, now)
            if not claims.get("session_id"):
                raise errors.BAD_JWT()
            session_id = uuid.UUID(str(claims["session_id"]))
            refresh = await sessions.upgrade(conn, session_id, user["id"], factor_id, "totp", now)
            # as GoTrue: other sessions below aal2 end, leftover unverified factors go
            await conn.execute("delete from auth.sessions where user_id = $1 and id <> $2 "
                               "and coalesce(aal, 'aal1') < 'aal2'", user["id"], session_id)
            await conn.execute("delete from auth.mfa_factors where user_id = $1 and status = 'unverified'",
                               user["id"])
            amr = await sessions.amr_of(conn, session_id)
            fresh = await users.reload(conn, user["id"])
            # inside the transaction: a hook refusing the token undoes the verification
            answer = await sessions.session_json(conn, cfg, fresh, session_id, refresh, amr, "totp")
    return json(answer)


@endpoint
async def unenroll(request: Request) -> Response:
    async with pool(request).acquire() as conn:
        claims, user = await _caller(request, conn)
        factor_id = _factor_id(request)
        factor = await _own_factor(conn, user, factor_id)
        if factor["status"] == "verified" and claims.get("aal") != "aal2":
            raise errors.INSUFFICIENT_AAL("AAL2 required to unenroll verified factor")
        async with conn.transaction():
            await remove_factor(conn, factor_id)
    return json({"id": str(factor_id)})


async def remove_factor(conn, factor_id: uuid.UUID):
    """Delete a factor (the caller holds a transaction); the sessions that reached aal2 with it
    fall back to aal1, as GoTrue does. Returns the deleted row, or None."""
    await conn.execute("delete from auth.mfa_amr_claims where authentication_method = 'totp' and session_id in "
                       "(select id from auth.sessions where factor_id = $1)", factor_id)
    await conn.execute("update auth.sessions set aal = 'aal1', factor_id = null where factor_id = $1", factor_id)
    return await conn.fetchrow("delete from auth.mfa_factors where id = $1 returning *", factor_id)
