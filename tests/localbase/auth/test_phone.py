"""Phone auth without an SMS provider, through supabase-py ([auth.sms] enable_signup): sign-up,
sign-in with a password or a code, verify, resend, a change of number; the codes read from the
local outbox, or fixed by [auth.sms.test_otp]; E.164 validation and GoTrue's errors.

sms_server: only enable_signup set (SMS confirmations off, as by default: a session at once);
sms_confirm_server: confirmations on (a code first), SMS max_frequency 1 s."""

from __future__ import annotations

import random
import time
from pathlib import Path

import httpx
import pytest
from supabase_auth.errors import AuthApiError

from localbase.security import jwt
from localbase.testing.plugin import localbase_fixture
from supabase import ClientOptions, create_client

PROJECT = Path(__file__).parents[1] / "project"
PASSWORD = "correct-horse-1"
TEST_NUMBER, TEST_CODE = "15550001111", "123456"
SMS = {"LOCALBASE_AUTH_SMS_ENABLE_SIGNUP": "true", "LOCALBASE_AUTH_SMS_TEST_OTP": f"+{TEST_NUMBER}={TEST_CODE}"}

sms_server = localbase_fixture(PROJECT, scope="module", env=SMS)
sms_confirm_server = localbase_fixture(PROJECT, scope="module", env={
    **SMS, "LOCALBASE_AUTH_SMS_ENABLE_CONFIRMATIONS": "true", "LOCALBASE_AUTH_SMS_MAX_FREQUENCY": "1s"})


def number() -> str:
    return f"+1555{random.randrange(10**6, 10**7)}"


def sb(server):
    return create_client(server.url, server.anon_key,
                         options=ClientOptions(auto_refresh_token=False, persist_session=False))


def outbox(server, phone: str) -> list[dict]:
    r = httpx.get(f"{server.url}/auth/v1/localbase/outbox", params={"phone": phone},
                  headers={"apikey": server.service_role_key})
    r.raise_for_status()
    return r.json()["messages"]


def last_code(server, phone: str) -> str:
    messages = outbox(server, phone)
    assert messages, f"no text message to {phone}"
    assert messages[0]["body"] == f"Your code is {messages[0]['otp']}"
    return messages[0]["otp"]


def test_sign_up_gives_a_session_when_sms_confirmations_are_off(sms_server):
    phone = number()
    c = sb(sms_server)
    response = c.auth.sign_up({"phone": phone, "password": PASSWORD, "options": {"data": {"info": "some info"}}})
    assert response.session is not None
    user = response.user
    assert user.phone == phone.lstrip("+") and user.phone_confirmed_at is not None
    assert user.user_metadata == {"info": "some info"} and user.app_metadata["provider"] == "phone"
    assert [i.provider for i in user.identities] == ["phone"]
    claims = jwt.verify(response.session.access_token, sms_server.jwt_secret)
    assert claims["phone"] == phone.lstrip("+") and claims["email"] == ""
    signed_in = c.auth.sign_in_with_password({"phone": phone, "password": PASSWORD})
    assert signed_in.user.id == user.id and signed_in.session.user.phone == user.phone
    with pytest.raises(AuthApiError) as info:
        c.auth.sign_up({"phone": phone, "password": PASSWORD})
    assert info.value.code == "user_already_exists"
    with pytest.raises(AuthApiError) as info:
        c.auth.sign_in_with_password({"phone": phone, "password": "wrong-password-1"})
    assert info.value.code == "invalid_credentials"


def test_sign_in_with_a_code(sms_server):
    phone = number()
    c = sb(sms_server)
    sent = c.auth.sign_in_with_otp({"phone": phone, "options": {"data": {"from": "otp"}}})
    assert sent.message_id and sent.session is None
    code = last_code(sms_server, phone.lstrip("+"))
    session = c.auth.verify_otp({"phone": phone, "token": code, "type": "sms"}).session
    assert session.user.phone == phone.lstrip("+") and session.user.user_metadata == {"from": "otp"}
    assert jwt.verify(session.access_token, sms_server.jwt_secret)["amr"][0]["method"] == "otp"
    with pytest.raises(AuthApiError) as info:  # once only
        c.auth.verify_otp({"phone": phone, "token": code, "type": "sms"})
    assert (info.value.status, info.value.message) == (403, "Token has expired or is invalid")


def test_the_test_otp_number_has_a_fixed_code_and_gets_no_text(sms_server):
    c = sb(sms_server)
    assert c.auth.sign_in_with_otp({"phone": f"+{TEST_NUMBER}"}).message_id == "test-otp"
    assert outbox(sms_server, TEST_NUMBER) == []
    session = c.auth.verify_otp({"phone": TEST_NUMBER, "token": TEST_CODE, "type": "sms"}).session
    assert session.user.phone == TEST_NUMBER


def test_without_create_user_an_unknown_number_is_refused(sms_server):
    with pytest.raises(AuthApiError) as info:
        sb(sms_server).auth.sign_in_with_otp({"phone": number(), "options": {"should_create_user": False}})
    assert (info.value.status, info.value.code) == (422, "otp_disabled")


def test_e164_validation_and_channels(sms_server):
    c = sb(sms_server)
    for attempt in (lambda: c.auth.sign_up({"phone": "12-invalid", "password": PASSWORD}),
                    lambda: c.auth.sign_in_with_otp({"phone": "+0123"}),
                    lambda: c.auth.verify_otp({"phone": "15551234567-invalid", "token": "123456", "type": "sms"})):
        with pytest.raises(AuthApiError) as info:
            attempt()
        assert (info.value.status, info.value.message) == (400, "Invalid phone number format (E.164 required)")
    with pytest.raises(AuthApiError, match="'whatsapp' is only supported if Twilio"):
        c.auth.sign_in_with_otp({"phone": number(), "options": {"channel": "whatsapp"}})


def test_confirmations_on_sign_up_sends_a_code(sms_confirm_server):
    phone = number()
    c = sb(sms_confirm_server)
    response = c.auth.sign_up({"phone": phone, "password": PASSWORD})
    assert response.session is None and response.user.phone_confirmed_at is None
    with pytest.raises(AuthApiError) as info:
        c.auth.sign_in_with_password({"phone": phone, "password": PASSWORD})
    assert info.value.code == "phone_not_confirmed"
    with pytest.raises(AuthApiError) as info:  # a second code within max_frequency
        c.auth.resend({"phone": phone, "type": "sms"})
    assert (info.value.status, info.value.code) == (429, "over_sms_send_rate_limit")
    first = last_code(sms_confirm_server, phone.lstrip("+"))
    time.sleep(1.1)
    c.auth.resend({"phone": phone, "type": "sms"})
    second = last_code(sms_confirm_server, phone.lstrip("+"))
    assert len(outbox(sms_confirm_server, phone.lstrip("+"))) == 2
    if first != second:
        with pytest.raises(AuthApiError):  # the resend replaced it
            c.auth.verify_otp({"phone": phone, "token": first, "type": "sms"})
    session = c.auth.verify_otp({"phone": phone, "token": second, "type": "sms"}).session
    assert session.user.phone_confirmed_at is not None
    assert c.auth.sign_in_with_password({"phone": phone, "password": PASSWORD}).session


def test_changing_the_number(sms_confirm_server):
    old, new = number(), number()
    c = sb(sms_confirm_server)
    c.auth.sign_up({"phone": old, "password": PASSWORD})
    session = c.auth.verify_otp({"phone": old, "token": last_code(sms_confirm_server, old.lstrip("+")),
                                 "type": "sms"}).session
    c.auth.set_session(session.access_token, session.refresh_token)
    user = c.auth.update_user({"phone": new}).user
    assert user.phone == old.lstrip("+")  # unchanged until the new number's code comes back
    code = last_code(sms_confirm_server, new.lstrip("+"))
    changed = c.auth.verify_otp({"phone": new, "token": code, "type": "phone_change"}).session
    assert changed.user.phone == new.lstrip("+") and changed.user.id == session.user.id
    assert c.auth.sign_in_with_password({"phone": new, "password": PASSWORD}).user.id == session.user.id


def test_admin_creates_phone_users(sms_server):
    admin = create_client(sms_server.url, sms_server.service_role_key,
                          options=ClientOptions(auto_refresh_token=False, persist_session=False)).auth.admin
    phone = number()
    user = admin.create_user({"phone": phone, "password": PASSWORD, "phone_confirm": True}).user
    assert user.phone == phone.lstrip("+") and user.phone_confirmed_at is not None and user.email in ("", None)
    assert sb(sms_server).auth.sign_in_with_password({"phone": phone, "password": PASSWORD}).user.id == user.id
    with pytest.raises(AuthApiError) as info:
        admin.create_user({"phone": phone, "password": PASSWORD})
    assert info.value.code == "phone_exists"


def test_the_settings_say_the_phone_provider_is_on(sms_server, localbase_server):
    on = httpx.get(f"{sms_server.url}/auth/v1/settings", headers={"apikey": sms_server.anon_key}).json()
    off = httpx.get(f"{localbase_server.url}/auth/v1/settings", headers={"apikey": localbase_server.anon_key}).json()
    assert (on["external"]["phone"], on["phone_autoconfirm"]) == (True, True)
    assert (off["external"]["phone"], off["phone_autoconfirm"]) == (False, False)


def test_phone_auth_is_off_by_default(localbase_server):
    c = sb(localbase_server)
    with pytest.raises(AuthApiError) as info:
        c.auth.sign_up({"phone": number(), "password": PASSWORD})
    assert (info.value.status, info.value.code) == (400, "phone_provider_disabled")
    with pytest.raises(AuthApiError) as info:  # verifying is answered as GoTrue does
        c.auth.verify_otp({"phone": number(), "token": "123456", "type": "sms"})
    assert (info.value.status, info.value.message) == (403, "Token has expired or is invalid")
