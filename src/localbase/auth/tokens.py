"""Access tokens (JWTs with Supabase's claims), refresh tokens and one-time tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from typing import Any

from localbase.auth import errors
from localbase.auth.config import AuthConfig
from localbase.security import jwt


def access_claims(config: AuthConfig, user: Mapping[str, Any], session_id: str, amr: list[dict[str, Any]],
                  aal: str = "aal1", now: int | None = None) -> dict[str, Any]:
    """The claims of an access token, before a custom access token hook (auth.hooks) sees them."""
    now = int(time.time()) if now is None else now
    exp = now + config.jwt_expiry
    return {
        "iss": config.issuer,
        "sub": str(user["id"]),
        "aud": user.get("aud") or "authenticated",
        "exp": exp,
        "iat": now,
        "email": user.get("email") or "",
        "phone": user.get("phone") or "",
        "app_metadata": user.get("raw_app_meta_data") or {},
        "user_metadata": user.get("raw_user_meta_data") or {},
        "role": user.get("role") or "authenticated",
        "aal": aal,
        "amr": amr,
        "session_id": session_id,
        "is_anonymous": bool(user.get("is_anonymous")),
    }


def bearer_claims(authorization: str | None, config: AuthConfig) -> dict[str, Any]:
    """Verify the request's `Authorization: Bearer <jwt>`; GoTrue's errors when missing or bad."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise errors.NO_AUTHORIZATION()
    token = authorization[7:].strip()
    try:
        claims = jwt.verify(token, config.keys)
    except jwt.JWTError as exc:
        raise errors.BAD_JWT(f"invalid JWT: unable to parse or verify signature, {exc.reason}") from None
    return claims


def new_refresh_token() -> str:
    return secrets.token_urlsafe(24)


def digest(token: str) -> str:
    """What the database keeps of a refresh token: its SHA-256, so a leaked table signs nobody in."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_otp(length: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(length))


def token_hash(email_or_phone: str, otp: str) -> str:
    """GoTrue's token hash: hex SHA-224 of the address followed by the OTP (what links carry)."""
    return hashlib.sha224((email_or_phone + otp).encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_auth_code() -> str:
    return secrets.token_urlsafe(32)


def pkce_matches(method: str, challenge: str, verifier: str) -> bool:
    import base64

    if method == "plain":
        return same(challenge, verifier)
    computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return same(challenge, computed)
