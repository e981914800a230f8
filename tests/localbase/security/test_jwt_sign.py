"""security.jwt.sign_hs256: the HS256 token PyJWT would make (same header, same claims, a valid MAC),
verified by PyJWT and by our verifier; datetime time claims as seconds, as PyJWT writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt as pyjwt
import pytest

from localbase.security import jwt

SECRET = "a-secret-of-more-than-32-characters-for-hs256"
CLAIMS = {"iss": "http://127.0.0.1/auth/v1", "sub": "u1", "aud": "authenticated", "role": "authenticated",
          "exp": 4_000_000_000, "iat": 1_700_000_000, "email": "zoë@example.com", "amr": [{"method": "password"}],
          "app_metadata": {"providers": ["email"]}, "user_metadata": {"n": 1.5, "ok": True, "none": None},
          "is_anonymous": False}


def test_the_token_is_pyjwts():
    token = jwt.sign_hs256(CLAIMS, SECRET)
    assert pyjwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    assert pyjwt.decode(token, SECRET, algorithms=["HS256"], audience="authenticated") == CLAIMS
    assert jwt.verify(token, SECRET) == CLAIMS
    assert jwt.sign(CLAIMS, SECRET).split(".")[0] == pyjwt.encode(CLAIMS, SECRET, algorithm="HS256",
                                                                   headers={"typ": "JWT"}).split(".")[0]


def test_another_secret_or_a_changed_payload_is_refused():
    token = jwt.sign_hs256(CLAIMS, SECRET)
    with pytest.raises(jwt.JWTError):
        jwt.verify(token, SECRET + "x")
    header, _, mac = token.split(".")
    forged = jwt.sign_hs256({**CLAIMS, "role": "service_role"}, SECRET + "x").split(".")[1]
    with pytest.raises(jwt.JWTError):
        jwt.verify(f"{header}.{forged}.{mac}", SECRET)


def test_datetime_time_claims_are_seconds_and_other_datetimes_are_refused():
    exp = datetime.now(UTC) + timedelta(hours=1)
    claims = jwt.verify(jwt.sign_hs256({"sub": "u1", "exp": exp}, SECRET), SECRET)
    assert claims["exp"] == int(exp.timestamp())
    with pytest.raises(TypeError):
        jwt.sign_hs256({"sub": "u1", "when": exp}, SECRET)  # as PyJWT's json.dumps refuses it
