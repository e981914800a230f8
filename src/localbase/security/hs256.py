"""HS256 verification without PyJWT, for the tokens PyJWT would accept as they stand.

Every request carries an API key and most a user's token, all HS256 with the project's secret;
importing PyJWT (and `cryptography`, which it imports whether or not a key needs it) costs a
server ~12 MB and ~0.05 s of its start. `hs256_accepted` answers the claims only when PyJWT's
`decode(token, secret, algorithms=["HS256"], options={"require": [], "verify_aud": False})`
(security/jwt.py) would answer the same claims, and None otherwise: anything unusual (padding, a
header beyond alg/typ/kid, a bad signature, an expired or not yet valid token, a claim of an
unexpected type, a short secret PyJWT warns about) is left to PyJWT, which decides and words the
refusal. What is accepted here is a subset of what PyJWT accepts, checked as PyJWT 2.x checks it
(api_jws._load and _verify_signature, api_jwt._validate_claims); tests/localbase/security/
test_hs256.py holds the two side by side."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import time
from functools import lru_cache
from typing import Any

_SEGMENT = re.compile(rb"[A-Za-z0-9_-]*")  # base64url without padding: decodes one way only
_HEADER_KEYS = frozenset(("alg", "typ", "kid"))
_TIME_CLAIMS = ("exp", "iat", "nbf")
_MIN_SECRET_BYTES = 32  # below it PyJWT warns (InsecureKeyLengthWarning): let it


def _segment(data: bytes) -> bytes | None:
    if _SEGMENT.fullmatch(data) is None or len(data) % 4 == 1:
        return None
    try:
        return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))
    except binascii.Error:  # pragma: no cover - the alphabet and length were checked
        return None


def _plain_number(value: Any) -> bool:
    return type(value) in (int, float) and value == value and value not in (float("inf"), float("-inf"))


@lru_cache(maxsize=4096)
def hs256_accepted(token: str, secret: str) -> dict[str, Any] | None:
    """The token's claims when it is a valid, current HS256 token of `secret` in the plain form;
    None: ask PyJWT. Cached like PyJWT's verifications in security/jwt.py (the caller checks `exp`
    again on every use, so a cached answer never outlives the token)."""
    key = secret.encode()
    if len(key) < _MIN_SECRET_BYTES or not secret.isprintable() or not token.isascii():
        return None  # a printable secret is never a PEM/SSH/DER key PyJWT would refuse as an HMAC key
    if "-----BEGIN" in secret or secret.startswith(("ssh-", "ecdsa-sha2-")):
        return None
    raw = token.encode()
    signing_input, _, signature_segment = raw.rpartition(b".")
    header_segment, _, payload_segment = signing_input.partition(b".")
    header_bytes, payload_bytes, signature = (_segment(header_segment), _segment(payload_segment),
                                              _segment(signature_segment))
    if header_bytes is None or payload_bytes is None or signature is None:
        return None
    if not hmac.compare_digest(hmac.digest(key, signing_input, "sha256"), signature):
        return None
    try:
        header = json.loads(header_bytes)
        claims = json.loads(payload_bytes)
    except (ValueError, RecursionError):
        return None
    if not isinstance(header, dict) or not header.keys() <= _HEADER_KEYS or header.get("alg") != "HS256":
        return None
    if "kid" in header and not isinstance(header["kid"], str):
        return None
    if not isinstance(claims, dict) or not _claims_current(claims):
        return None
    return claims


def _claims_current(claims: dict[str, Any]) -> bool:
    """PyJWT's claim checks with no audience, issuer or subject asked for: time claims as integers
    (`int()` of the value), iat and nbf not in the future, exp not past; sub and jti strings."""
    if any(name in claims and not _plain_number(claims[name]) for name in _TIME_CLAIMS):
        return False
    now = time.time()
    if "iat" in claims and int(claims["iat"]) > now:
        return False
    if "nbf" in claims and int(claims["nbf"]) > now:
        return False
    if "exp" in claims and int(claims["exp"]) <= now:
        return False
    return all(not (name in claims and not isinstance(claims[name], str)) for name in ("sub", "jti"))
