"""security.hs256: what it accepts, PyJWT accepts with the same claims; what PyJWT refuses, it leaves
to PyJWT (None); the ordinary tokens (Localbase's own, PyJWT's) are accepted without PyJWT; and a
server's modules import neither PyJWT nor cryptography."""

from __future__ import annotations

import base64
import hmac
import json
import subprocess
import sys
import time
import warnings

import jwt as pyjwt
import pytest

from localbase.security import jwt
from localbase.security.hs256 import hs256_accepted

SECRET = "a-secret-of-more-than-32-characters-for-hs256"
NOW = int(time.time())
# the tokens are made when the module is collected and checked maybe half an hour later (a whole
# suite's run): what must still be valid, or still ahead, then is a day away
DAY = 86_400
CLAIMS = {"sub": "u1", "role": "authenticated", "aud": "authenticated", "exp": NOW + DAY, "iat": NOW - 10}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make(claims, header=None, secret: str = SECRET, *, raw_payload: bytes | None = None) -> str:
    """A token signed by hand, so that any header or payload can be tried."""
    head = b64(json.dumps(header if header is not None else {"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(raw_payload if raw_payload is not None else json.dumps(claims).encode())
    mac = hmac.digest(secret.encode(), f"{head}.{body}".encode(), "sha256")
    return f"{head}.{body}.{b64(mac)}"


def pyjwt_verdict(token: str, secret: str = SECRET):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pyjwt.decode(token, secret, algorithms=["HS256"], options={"require": [], "verify_aud": False})
        except pyjwt.PyJWTError as exc:
            return type(exc)


def _padded(token: str) -> str:
    head, body, mac = token.split(".")
    return f"{head}.{body}.{mac}=" if len(mac) % 4 == 3 else f"{head}=.{body}.{mac}"


ORDINARY = {
    "localbase": jwt.sign_hs256(CLAIMS, SECRET),
    "pyjwt": pyjwt.encode(CLAIMS, SECRET, algorithm="HS256"),
    "pyjwt with kid": pyjwt.encode(CLAIMS, SECRET, algorithm="HS256", headers={"kid": "k1"}),
    "no time claims": make({"role": "anon"}),
    "float exp": make({**CLAIMS, "exp": NOW + DAY + 0.5}),
    "unicode claims": make({**CLAIMS, "email": "zoë@example.com", "meta": {"a": [1, None, True]}}),
}

UNUSUAL = {
    "expired": make({**CLAIMS, "exp": NOW - 5}),
    "exp now": make({**CLAIMS, "exp": NOW - 1}),
    "iat ahead": make({**CLAIMS, "iat": NOW + DAY}),
    "nbf ahead": make({**CLAIMS, "nbf": NOW + DAY}),
    "exp a string": make({**CLAIMS, "exp": str(NOW + DAY)}),
    "exp a bool": make({**CLAIMS, "exp": True}),
    "iat a list": make({**CLAIMS, "iat": [1]}),
    "exp NaN": make(None, raw_payload=b'{"exp": NaN}'),
    "sub a number": make({**CLAIMS, "sub": 7}),
    "jti a dict": make({**CLAIMS, "jti": {}}),
    "alg none": make(CLAIMS, {"alg": "none"}),
    "alg HS384": make(CLAIMS, {"alg": "HS384", "typ": "JWT"}),
    "no alg": make(CLAIMS, {"typ": "JWT"}),
    "kid a number": make(CLAIMS, {"alg": "HS256", "kid": 1}),
    "crit": make(CLAIMS, {"alg": "HS256", "crit": ["exp"]}),
    "b64 false": make(CLAIMS, {"alg": "HS256", "b64": False, "crit": ["b64"]}),
    "header a list": make(CLAIMS, ["HS256"]),
    "payload a list": make(None, raw_payload=b"[1, 2]"),
    "payload not JSON": make(None, raw_payload=b"{nope"),
    "another secret": make(CLAIMS, secret=SECRET + "x"),
    "bad signature": jwt.sign_hs256(CLAIMS, SECRET)[:-4] + "AAAA",
    "padding": _padded(jwt.sign_hs256(CLAIMS, SECRET)),
    "junk characters": jwt.sign_hs256(CLAIMS, SECRET).replace(".", ".!", 1),
    "non-ascii": jwt.sign_hs256(CLAIMS, SECRET) + "é",
    "two segments": "a.b",
}


@pytest.mark.parametrize("name", ORDINARY)
def test_ordinary_tokens_are_accepted_here_with_pyjwts_claims(name):
    token = ORDINARY[name]
    claims = hs256_accepted(token, SECRET)
    assert claims is not None
    assert claims == pyjwt_verdict(token)
    assert jwt.verify(token, SECRET) == claims


@pytest.mark.parametrize("name", UNUSUAL)
def test_anything_else_is_left_to_pyjwt(name):
    token = UNUSUAL[name]
    claims = hs256_accepted(token, SECRET)
    verdict = pyjwt_verdict(token)
    assert claims is None or claims == verdict  # never accepted here when PyJWT refuses
    if isinstance(verdict, type):
        assert claims is None


def test_a_short_secret_is_left_to_pyjwt_which_warns_about_it():
    short = "s" * 16
    token = make(CLAIMS, secret=short)
    assert hs256_accepted(token, short) is None
    with pytest.warns(pyjwt.warnings.InsecureKeyLengthWarning):
        assert jwt.verify(token, short) == CLAIMS


@pytest.mark.parametrize(("name", "reason"), [("expired", "JWT expired"),
                                              ("bad signature", "JWT cryptographic operation failed"),
                                              ("alg none", "Wrong or unsupported encoding algorithm"),
                                              ("payload a list", "Invalid JWT"), ("nbf ahead", "Invalid JWT")])
def test_refusals_keep_their_wording(name, reason):
    with pytest.raises(jwt.JWTError) as refused:
        jwt.verify(UNUSUAL[name], SECRET)
    assert refused.value.reason == reason


def test_a_server_imports_neither_pyjwt_nor_cryptography():
    code = ("import sys, localbase.cli.main, localbase.gateway.app, localbase.process.server; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('jwt', 'cryptography')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
