"""Email confirmations on (set by LOCALBASE_AUTH_EMAIL_ENABLE_CONFIRMATIONS on a server of its
own): sign-up answers a user without a session and mails a confirmation to the local mailbox;
sign-in waits for it; email changes are confirmed from the new address."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from tests.localbase.auth.conftest import PASSWORD, client, mailbox, new_email


def _sign_up(server, email: str):
    return client(server, flow_type="implicit").auth.sign_up({"email": email, "password": PASSWORD})


def test_sign_up_needs_confirmation(confirm_server):
    email = new_email("confirm")
    response = _sign_up(confirm_server, email)
    assert response.session is None and response.user.email == email
    assert response.user.email_confirmed_at is None and response.user.confirmation_sent_at is not None
    with pytest.raises(AuthApiError) as info:
        client(confirm_server).auth.sign_in_with_password({"email": email, "password": PASSWORD})
    assert (info.value.status, info.value.code) == (400, "email_not_confirmed")
    mail = mailbox(confirm_server, email)[0]
    assert mail["mail_type"] == "signup" and mail["subject"] == "Confirm Your Signup"
    location = httpx.get(mail["action_link"], follow_redirects=False).headers["location"]
    fragment = parse_qs(urlsplit(location).fragment)
    assert fragment["type"] == ["signup"] and fragment["access_token"]
    assert client(confirm_server).auth.sign_in_with_password({"email": email, "password": PASSWORD}).session


def test_confirm_with_the_code(confirm_server):
    email = new_email("code")
    _sign_up(confirm_server, email)
    otp = mailbox(confirm_server, email)[0]["otp"]
    response = client(confirm_server).auth.verify_otp({"email": email, "token": otp, "type": "signup"})
    assert response.session is not None and response.user.email_confirmed_at is not None


def test_sign_up_again_does_not_reveal_a_confirmed_account(confirm_server):
    email = new_email("known")
    first = _sign_up(confirm_server, email)
    otp = mailbox(confirm_server, email)[0]["otp"]
    client(confirm_server).auth.verify_otp({"email": email, "token": otp, "type": "signup"})
    again = _sign_up(confirm_server, email)  # no user_already_exists: the answer looks like a new sign-up
    assert again.session is None and again.user.email == email and again.user.id != first.user.id


def test_resend_confirmation(confirm_server):
    email = new_email("resend")
    _sign_up(confirm_server, email)
    client(confirm_server).auth.resend({"type": "signup", "email": email})
    newest, first = mailbox(confirm_server, email)
    assert newest["mail_type"] == first["mail_type"] == "signup"
    if newest["otp"] != first["otp"]:  # the first code was replaced by the second
        with pytest.raises(AuthApiError):
            client(confirm_server).auth.verify_otp({"email": email, "token": first["otp"], "type": "signup"})
    assert client(confirm_server).auth.verify_otp({"email": email, "token": newest["otp"], "type": "signup"}).session


def test_email_change_is_confirmed_from_the_new_address(confirm_server):
    email, new = new_email("old"), new_email("new")
    _sign_up(confirm_server, email)
    c = client(confirm_server)
    otp = mailbox(confirm_server, email)[0]["otp"]
    c.auth.verify_otp({"email": email, "token": otp, "type": "signup"})
    updated = c.auth.update_user({"email": new})
    assert updated.user.email == email and updated.user.new_email == new
    mail = mailbox(confirm_server, new)[0]
    assert mail["mail_type"] == "email_change"
    response = c.auth.verify_otp({"email": new, "token": mail["otp"], "type": "email_change"})
    assert response.user.email == new
    assert client(confirm_server).auth.sign_in_with_password({"email": new, "password": PASSWORD}).session


def test_password_requirements_from_environment(confirm_server):
    with pytest.raises(AuthWeakPasswordError) as info:
        client(confirm_server).auth.sign_up({"email": new_email(), "password": "onlyletters"})
    assert info.value.reasons == ["characters"]


def test_jwt_expiry_from_environment(confirm_server):
    email = new_email("expiry")
    _sign_up(confirm_server, email)
    otp = mailbox(confirm_server, email)[0]["otp"]
    session = client(confirm_server).auth.verify_otp({"email": email, "token": otp, "type": "signup"}).session
    assert session.expires_in == 600 and 595 <= session.expires_at - int(time.time()) <= 600


def test_settings_show_confirmations_on(confirm_server):
    settings = httpx.get(f"{confirm_server.url}/auth/v1/settings", headers={"apikey": confirm_server.anon_key}).json()
    assert settings["mailer_autoconfirm"] is False
