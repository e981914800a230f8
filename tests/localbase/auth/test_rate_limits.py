"""Rate limits answer 429 with GoTrue's codes (a server of its own with low limits set by
LOCALBASE_AUTH_RATE_LIMIT_* variables: 12 sign-ins/sign-ups per IP, 3 per email, 2 mails per
address)."""

from __future__ import annotations

import httpx
import pytest
from supabase_auth.errors import AuthApiError

from tests.localbase.auth.conftest import PASSWORD, client, new_email


def test_mails_per_address(limits_server):
    email = new_email("mails")
    c = client(limits_server)
    c.auth.sign_in_with_otp({"email": email})
    c.auth.sign_in_with_otp({"email": email})
    with pytest.raises(AuthApiError) as info:
        c.auth.sign_in_with_otp({"email": email})
    assert (info.value.status, info.value.code) == (429, "over_email_send_rate_limit")
    client(limits_server).auth.sign_in_with_otp({"email": new_email("other")})  # other addresses unaffected


def test_sign_in_attempts_per_email(limits_server):
    email = new_email("brute")
    c = client(limits_server)
    for _ in range(3):
        with pytest.raises(AuthApiError) as info:
            c.auth.sign_in_with_password({"email": email, "password": "guess-guess"})
        assert info.value.code == "invalid_credentials"
    with pytest.raises(AuthApiError) as info:
        c.auth.sign_in_with_password({"email": email, "password": "guess-guess"})
    assert (info.value.status, info.value.code) == (429, "over_request_rate_limit")


def test_sign_in_sign_ups_per_ip(limits_server):
    c = client(limits_server)
    codes = []
    for _ in range(13):
        try:
            c.auth.sign_up({"email": new_email("flood"), "password": PASSWORD})
            codes.append(200)
        except AuthApiError as exc:
            codes.append(exc.status)
            if exc.status == 429:
                assert exc.code == "over_request_rate_limit"
                break
    assert codes[-1] == 429 and set(codes[:-1]) == {200}
    raw = httpx.post(f"{limits_server.url}/auth/v1/token?grant_type=password",
                     headers={"apikey": limits_server.anon_key}, json={"email": new_email(), "password": PASSWORD})
    assert raw.status_code == 429 and int(raw.headers["retry-after"]) > 0
    assert raw.json()["error_code"] == "over_request_rate_limit"
