"""Signed URLs: JWTs signed with the project's secret (HS256, as every Localbase token), bound to
one object path and one scope, expiring.

A download token carries {url: "<bucket>/<key>", scope: "download"} (and the transformation for
/render/image/sign); an upload token {url, scope: "upload", owner, upsert}. Verifying checks the
signature, the expiry, the scope and that `url` is exactly the requested path, so a token can
neither be altered nor moved to another object or action."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from localbase.security import jwt
from localbase.storage import errors

DOWNLOAD = "download"
UPLOAD = "upload"


@dataclass(frozen=True)
class Grant:
    url: str
    scope: str
    owner: str | None = None
    upsert: bool = False
    transformations: str | None = None


def sign(secret: str, url: str, scope: str, expires_in: int, **extra: Any) -> str:
    now = int(time.time())
    claims = {k: v for k, v in extra.items() if v is not None}
    claims.update({"url": url, "scope": scope, "iat": now, "exp": now + expires_in})
    return jwt.sign(claims, secret)


def verify(secret: str, token: str | None, url: str, scope: str) -> Grant:
    if not token:
        raise errors.invalid_request("Missing token")
    try:
        claims = jwt.verify(token, secret)
    except jwt.JWTError as exc:
        if exc.expired:
            raise errors.invalid_jwt("jwt expired") from None
        raise errors.invalid_jwt(exc.reason) from None
    if claims.get("scope") != scope or "role" in claims:
        raise errors.invalid_signature(f"Token is not scoped for {scope}")
    if claims.get("url") != url:
        raise errors.invalid_signature("The url do not match the signature")
    transformations = claims.get("transformations")
    owner = claims.get("owner")
    return Grant(url, scope, owner if isinstance(owner, str) else None, claims.get("upsert") is True,
                 transformations if isinstance(transformations, str) else None)


def expires_in(value: Any) -> int:
    """`expiresIn` as the clients send it (a number, or a numeric string): at least one second."""
    try:
        seconds = int(str(value).strip())
    except (TypeError, ValueError):
        raise errors.invalid_parameter("expiresIn", "expiresIn must be a positive integer") from None
    if seconds < 1:
        raise errors.invalid_parameter("expiresIn", "expiresIn must be a positive integer")
    return seconds
