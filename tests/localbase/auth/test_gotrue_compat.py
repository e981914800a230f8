"""What supabase-py's and auth-js's own suites expect of GoTrue, on a server with default auth
settings (tests/localbase/project: no max_frequency, no rate limit, no confirmation setting):
invites, email validation, pagination errors, MFA without a session, the admin MFA API, and
the answers with SAML SSO off."""

from __future__ import annotations

import time
import uuid

import httpx
import pyotp
import pytest
from supabase_auth.errors import AuthApiError

from localbase.security import jwt
from supabase import ClientOptions, create_client

INVALID_EMAIL = "xx:;x@x.x"  # the auth-js suite's
PASSWORD = "correct-horse-1"


def sb(server, key: str | None = None):
    return create_client(server.url, key or server.anon_key,
                         options=ClientOptions(auto_refresh_token=False, persist_session=False))


def email() -> str:
    return f"compat-{uuid.uuid4().hex[:10]}@example.com"


def test_invite_with_default_settings(localbase_server):
    """The new user's invited_at is the invite's sending time, not a mail sent a moment before
    (which the default max_frequency of 1 s refused with 429)."""
    admin = sb(localbase_server, localbase_server.service_role_key)
    address = email()
    user = admin.auth.admin.invite_user_by_email(
        address, {"data": {"status": "alpha"}, "redirect_to": "http://localhost:9999/welcome"}).user
    assert user.email == address and user.invited_at is not None
    assert user.user_metadata == {"status": "alpha"}
    mails = httpx.get(f"{localbase_server.url}/auth/v1/localbase/mailbox", params={"email": address},
                      headers={"apikey": localbase_server.service_role_key}).json()["messages"]
    assert [m["mail_type"] for m in mails] == ["invite"]


def test_email_addresses_are_validated_as_gotrue_does(localbase_server):
    admin = sb(localbase_server, localbase_server.service_role_key).auth.admin
    attempts = [
        lambda: admin.create_user({"email": INVALID_EMAIL, "password": PASSWORD}),
        lambda: admin.invite_user_by_email(INVALID_EMAIL),
        lambda: admin.generate_link({"type": "signup", "email": INVALID_EMAIL, "password": PASSWORD}),
    ]
    for attempt in attempts:
        with pytest.raises(AuthApiError) as info:
            attempt()
        assert info.value.message == "Unable to validate email address: invalid format"
        assert (info.value.status, info.value.code) == (400, "validation_failed")
    assert admin.create_user({"email": "dotless@localhost", "password": PASSWORD}).user  # as GoTrue


def test_list_users_refuses_a_negative_page(localbase_server):
    admin = sb(localbase_server, localbase_server.service_role_key).auth.admin
    with pytest.raises(AuthApiError) as info:
        admin.list_users(page=-1, per_page=10)
    assert info.value.status == 400
    assert info.value.message == 'Bad Pagination Parameters: strconv.ParseUint: parsing "-1": invalid syntax'
    assert isinstance(admin.list_users(page=1, per_page=10), list)


def test_mfa_without_a_session(localbase_server):
    """No bearer: 401, whatever the factor id; the anon key as bearer (what supabase-js sends when
    signed out): 403 bad_jwt, as GoTrue behind Supabase's gateway - never a 404 for the factor."""
    base = f"{localbase_server.url}/auth/v1/factors/test-factor-id"
    for path in ("/challenge", "/verify"):
        r = httpx.post(base + path, headers={"apikey": localbase_server.anon_key}, json={})
        assert (r.status_code, r.json()["error_code"]) == (401, "no_authorization"), r.text
    r = httpx.delete(base, headers={"apikey": localbase_server.anon_key})
    assert r.status_code == 401
    r = httpx.post(base + "/challenge", json={}, headers={"apikey": localbase_server.anon_key,
                                                         "Authorization": f"Bearer {localbase_server.anon_key}"})
    assert (r.status_code, r.json()["error_code"]) == (403, "bad_jwt")


def test_admin_mfa_list_and_delete_factors(localbase_server):
    user_client = sb(localbase_server)
    session = user_client.auth.sign_up({"email": email(), "password": PASSWORD}).session
    enrolled = user_client.auth.mfa.enroll({"factor_type": "totp", "friendly_name": "test_otp"})
    verified = user_client.auth.mfa.challenge_and_verify(
        {"factor_id": enrolled.id, "code": pyotp.TOTP(enrolled.totp.secret).now()})
    assert jwt.verify(verified.access_token, localbase_server.jwt_secret)["aal"] == "aal2"
    user_id = session.user.id

    admin = sb(localbase_server, localbase_server.service_role_key).auth.admin
    factors = admin.mfa.list_factors({"user_id": user_id})
    assert [(f.id, f.friendly_name, f.factor_type, f.status) for f in factors] == \
        [(enrolled.id, "test_otp", "totp", "verified")]
    deleted = admin.mfa.delete_factor({"id": enrolled.id, "user_id": user_id})
    assert deleted.id == enrolled.id
    assert admin.mfa.list_factors({"user_id": user_id}) == []
    # the session that reached aal2 with it is aal1 again
    refreshed = user_client.auth.refresh_session(verified.refresh_token).session
    assert jwt.verify(refreshed.access_token, localbase_server.jwt_secret)["aal"] == "aal1"
    nobody = str(uuid.uuid4())
    for attempt in (lambda: admin.mfa.list_factors({"user_id": nobody}),
                    lambda: admin.mfa.delete_factor({"id": enrolled.id, "user_id": nobody}),
                    lambda: admin.mfa.delete_factor({"id": enrolled.id, "user_id": user_id})):
        with pytest.raises(AuthApiError) as info:
            attempt()
        assert info.value.status == 404


def test_the_supabase_admin_role_is_an_admin(localbase_server):
    """GoTrue's admin roles are service_role and supabase_admin (supabase-py's suite uses the latter)."""
    token = jwt.sign({"sub": "1234567890", "role": "supabase_admin", "exp": int(time.time()) + 60},
                     localbase_server.jwt_secret)
    r = httpx.get(f"{localbase_server.url}/auth/v1/admin/users", params={"per_page": 1},
                  headers={"apikey": localbase_server.anon_key, "Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and "users" in r.json()


def test_sso_answers_saml_disabled(localbase_server):
    with pytest.raises(AuthApiError, match="SAML 2.0 is disabled") as info:
        sb(localbase_server).auth.sign_in_with_sso({"domain": "google"})
    assert (info.value.status, info.value.code) == (404, "saml_provider_disabled")
    r = httpx.get(f"{localbase_server.url}/auth/v1/sso/saml/metadata", headers={"apikey": localbase_server.anon_key})
    assert (r.status_code, r.json()["error_code"]) == (404, "saml_provider_disabled")
