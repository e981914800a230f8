"""JWT signing and verification with the algorithm pinned.

PostgREST, GoTrue and Realtime all verify the same project keys; this module is the one
place Localbase does it, so every service refuses the same bad tokens the same way.

Keys: the project's shared secret (a `str`: HS256 only), or a `KeyRing` (security.signing_keys):
the secret plus asymmetric keys. With a ring, a token's header picks the key but never the
algorithm family: HS256 is checked with the secret only, ES256/RS256 only with a key of that
algorithm (by `kid`); `none` and anything else are refused.

PyJWT (and `cryptography`, which it imports: ~12 MB and ~0.05 s of a start) is imported on first
need: an HS256 token that PyJWT would accept as it stands (hs256_accepted) is verified here; any
other token, and every refusal, goes through PyJWT, so the verdicts and their wording are PyJWT's.
"""

from __future__ import annotations

import base64
import hmac
import time
from calendar import timegm
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from localbase.security.hs256 import hs256_accepted
from localbase.security.signing_keys import KeyRing

ALGORITHM = "HS256"


@dataclass(frozen=True)
class JWTError(Exception):
    """A token that must be refused. `reason` is safe to show the client (no secret, no token).
    `claims`: the signature held but a claim is invalid (PostgREST's PGRST303 rather than PGRST301)."""

    reason: str
    expired: bool = False
    claims: bool = False

    def __str__(self) -> str:
        return self.reason


def sign(claims: dict[str, Any], secret: str | KeyRing) -> str:
    """With a ring that has a signing key: that key's algorithm and its `kid`; else HS256."""
    key = secret.signing if isinstance(secret, KeyRing) else None
    if key is not None and key.private is not None:
        import jwt as pyjwt
        return pyjwt.encode(claims, key.private, algorithm=key.alg, headers={"typ": "JWT", "kid": key.kid})
    return sign_hs256(claims, secret.secret if isinstance(secret, KeyRing) else secret)


_HS256_HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")  # as PyJWT writes it


def sign_hs256(claims: dict[str, Any], secret: str) -> str:
    """An HS256 JWT (RFC 7519: the compact serialization, HMAC-SHA256 of `header.payload`), the same
    token PyJWT makes (its header, datetime time claims as seconds) at a tenth of its cost: the payload
    by orjson, the MAC by the standard library (PyJWT's json.dumps and key checks are most of a
    refresh's signing time). Verification stays with PyJWT (`verify`)."""
    if any(isinstance(claims.get(name), datetime) for name in _NUMERIC_CLAIMS):
        claims = {**claims, **{name: timegm(claims[name].utctimetuple()) for name in _NUMERIC_CLAIMS
                               if isinstance(claims.get(name), datetime)}}
    payload = orjson.dumps(claims, option=orjson.OPT_PASSTHROUGH_DATETIME)  # any other datetime: TypeError
    signing_input = _HS256_HEADER + b"." + base64.urlsafe_b64encode(payload).rstrip(b"=")
    mac = hmac.digest(secret.encode(), signing_input, "sha256")
    return (signing_input + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()


def verify(token: str, secret: str | KeyRing, *, leeway: int = 0) -> dict[str, Any]:
    """Verify signature (the algorithm pinned to the key: alg=none and RS/HS confusion are refused) and expiry.

    `exp` is optional as in PostgREST (the anon and service keys of a project carry a far one),
    but checked when present; `nbf` and `iat` are checked by PyJWT when present.
    """
    if not token or token.count(".") != 2:
        raise JWTError(f"Expected 3 parts in JWT; got {token.count('.') + 1 if token else 0}")
    claims = hs256_accepted(token, secret if isinstance(secret, str) else secret.secret)
    if claims is None:
        claims = _verify_pyjwt(token, secret)
    _check_claim_types(claims)
    exp = claims.get("exp")
    if exp is not None and exp + leeway < time.time():
        # a cached verification may outlive the token
        raise JWTError("JWT expired", expired=True)
    return claims


def _verify_pyjwt(token: str, secret: str | KeyRing) -> Any:
    """Every token hs256_accepted leaves: PyJWT's verdict, refusals worded as PostgREST words them."""
    import jwt as pyjwt
    try:
        return _verify_cached(token, secret) if isinstance(secret, str) else _verify_ring(token, secret)
    except pyjwt.ExpiredSignatureError:
        raise JWTError("JWT expired", expired=True) from None
    except pyjwt.InvalidAlgorithmError:
        raise JWTError("Wrong or unsupported encoding algorithm") from None
    except pyjwt.InvalidSignatureError:
        raise JWTError("JWT cryptographic operation failed") from None
    except _NoKey:
        raise JWTError("No suitable key or wrong key type") from None
    except pyjwt.PyJWTError:
        raise JWTError("Invalid JWT") from None


_NUMERIC_CLAIMS = ("exp", "nbf", "iat")


def _check_claim_types(claims: Any) -> None:
    """PyJWT takes `"exp": "123"` (it calls int() on it); PostgREST and GoTrue take only a JSON
    number. A token whose payload is not an object, or whose time claims are not numbers, is
    refused as PostgREST words it."""
    if not isinstance(claims, dict):
        raise JWTError("Parsing claims failed", claims=True)
    for name in _NUMERIC_CLAIMS:
        value = claims.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or value != value or value in (float("inf"), float("-inf"))):
            raise JWTError(f"The JWT '{name}' claim must be a number", claims=True)


class _NoKey(Exception):
    """An asymmetric token whose `kid` names none of the ring's keys."""


@lru_cache(maxsize=4096)
def _verify_cached(token: str, secret: str) -> dict[str, Any]:
    import jwt as pyjwt
    # Only successful verifications are cached (exceptions are not), and expiry is re-checked
    # by the caller on every use, so caching never extends a token's life.
    return pyjwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        options={"require": [], "verify_aud": False},
    )


@lru_cache(maxsize=4096)
def _verify_ring(token: str, ring: KeyRing) -> dict[str, Any]:
    """An HS256 token with the ring's secret; an ES256/RS256 one with the key its header names."""
    import jwt as pyjwt
    header = pyjwt.get_unverified_header(token)
    alg = header.get("alg")
    if alg == ALGORITHM:
        return _verify_cached(token, ring.secret)
    if not isinstance(alg, str) or alg == "none":
        raise pyjwt.InvalidAlgorithmError(alg)
    candidates = ring.candidates(alg, header.get("kid"))
    if not candidates:
        raise (_NoKey if ring.candidates(alg, None) else pyjwt.InvalidAlgorithmError)(alg)
    for key in candidates[:-1]:  # no kid: each key of the algorithm may have signed it
        try:
            return pyjwt.decode(token, key.public, algorithms=[alg], options={"require": [], "verify_aud": False})
        except pyjwt.InvalidSignatureError:
            continue
    return pyjwt.decode(token, candidates[-1].public, algorithms=[alg], options={"require": [], "verify_aud": False})
