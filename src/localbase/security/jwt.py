"""JWT signing and verification with the algorithm pinned to HS256.

PostgREST, GoTrue and Realtime all verify the same project secret; this module is the one
place Localbase does it, so every service refuses the same bad tokens the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt as pyjwt

ALGORITHM = "HS256"


@dataclass(frozen=True)
class JWTError(Exception):
    """A token that must be refused. `reason` is safe to show the client (no secret, no token)."""

    reason: str
    expired: bool = False

    def __str__(self) -> str:
        return self.reason


def sign(claims: dict[str, Any], secret: str) -> str:
    return pyjwt.encode(claims, secret, algorithm=ALGORITHM, headers={"typ": "JWT"})


def verify(token: str, secret: str, *, leeway: int = 0) -> dict[str, Any]:
    """Verify signature (HS256 only, so alg=none and RS/HS confusion are refused) and expiry.

    `exp` is optional as in PostgREST (the anon and service keys of a project carry a far one),
    but checked when present; `nbf` and `iat` are checked by PyJWT when present.
    """
    if not token or token.count(".") != 2:
        raise JWTError("Expected 3 parts in JWT; got %d" % (token.count(".") + 1 if token else 0))
    try:
        claims = _verify_cached(token, secret)
    except pyjwt.ExpiredSignatureError:
        raise JWTError("JWT expired", expired=True) from None
    except pyjwt.InvalidAlgorithmError:
        raise JWTError("Wrong or unsupported encoding algorithm") from None
    except pyjwt.InvalidSignatureError:
        raise JWTError("JWT cryptographic operation failed") from None
    except pyjwt.PyJWTError:
        raise JWTError("Invalid JWT") from None
    exp = claims.get("exp")
    if exp is not None and exp + leeway < time.time():
        # a cached verification may outlive the token
        raise JWTError("JWT expired", expired=True)
    return claims


@lru_cache(maxsize=4096)
def _verify_cached(token: str, secret: str) -> dict[str, Any]:
    # Only successful verifications are cached (exceptions are not), and expiry is re-checked
    # by the caller on every use, so caching never extends a token's life.
    return pyjwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        options={"require": [], "verify_aud": False},
    )
