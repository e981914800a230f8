"""Mail flows on the auto-confirm server: OTP / magic link with verify_otp, the link itself
(GET /verify -> redirect), password recovery, PKCE code exchange; /settings and /health."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from supabase_auth.errors import AuthApiError

from tests.localbase.auth.conftest import PASSWORD, aclient, client, mailbox, new_email, signed_up


def test_otp_code_signs_in(auth_server):
    email = new_email("otp")
    signed_up(auth_server, email)
    c = client(auth_server, flow_type="implicit")
    c.auth.sign_in_with_otp({"email": email})
    mail = mailbox(auth_server, email)[0]
    assert mail["mail_type"] == "magiclink" and mail["otp"] in mail["body"]
    events = []
    c.auth.on_auth_state_change(lambda event, session: events.append(event))
    response = c.auth.verify_otp({"email": email, "token": mail["otp"], "type": "email"})
    assert response.user.email == email and response.session is not None and events == ["SIGNED_IN"]
    with pytest.raises(AuthApiError) as info:
        c.auth.verify_otp({"email": email, "token": mail["otp"], "type": "email"})
    assert (info.value.status, info.value.code) == (403, "otp_expired")


def test_otp_creates_user_unless_told_not_to(auth_server):
    email = new_email("otp-new")
    c = client(auth_server)
    with pytest.raises(AuthApiError) as info:
        c.auth.sign_in_with_otp({"email": email, "options": {"should_create_user": False}})
    assert (info.value.status, info.value.code) == (422, "otp_disabled")
    c.auth.sign_in_with_otp({"email": email, "options": {"data": {"via": "otp"}}})
    mail = mailbox(auth_server, email)[0]
    response = c.auth.verify_otp({"email": email, "token": mail["otp"], "type": "magiclink"})
    assert response.user.user_metadata == {"via": "otp"} and response.user.email_confirmed_at is not None


def test_wrong_otp_is_refused(auth_server):
    email = new_email()
    signed_up(auth_server, email)
    c = client(auth_server)
    c.auth.sign_in_with_otp({"email": email})
    real = mailbox(auth_server, email)[0]["otp"]
    wrong = "000000" if real != "000000" else "111111"
    with pytest.raises(AuthApiError) as info:
        c.auth.verify_otp({"email": email, "token": wrong, "type": "email"})
    assert info.value.code == "otp_expired"
    assert c.auth.verify_otp({"email": email, "token": real, "type": "email"}).session


def test_magic_link_redirects_with_session_in_fragment(auth_server):
    email = new_email("link")
    signed_up(auth_server, email)
    client(auth_server, flow_type="implicit").auth.sign_in_with_otp(
        {"email": email, "options": {"email_redirect_to": "http://localhost:8000/after"}})
    link = mailbox(auth_server, email)[0]["action_link"]
    assert link.startswith(f"{auth_server.url}/auth/v1/verify?")
    response = httpx.get(link, follow_redirects=False)  # no apikey: the link is public, as on Supabase
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("http://localhost:8000/after#")
    fragment = parse_qs(urlsplit(location).fragment)
    assert fragment["type"] == ["magiclink"] and fragment["token_type"] == ["bearer"]
    # the client takes the session from that URL, as a browser app would
    c = client(auth_server, flow_type="implicit")
    events = []
    c.auth.on_auth_state_change(lambda event, session: events.append(event))
    c.auth.initialize_from_url(location)
    assert c.auth.get_session().user.email == email and events == ["SIGNED_IN"]
    again = httpx.get(link, follow_redirects=False)  # used: the app gets GoTrue's error fragment
    fragment = parse_qs(urlsplit(again.headers["location"]).fragment)
    assert fragment["error_code"] == ["otp_expired"] and fragment["error"] == ["access_denied"]


def test_redirect_to_an_unlisted_site_falls_back_to_site_url(auth_server):
    email = new_email()
    signed_up(auth_server, email)
    client(auth_server, flow_type="implicit").auth.sign_in_with_otp(
        {"email": email, "options": {"email_redirect_to": "https://evil.example.com/steal"}})
    link = mailbox(auth_server, email)[0]["action_link"]
    location = httpx.get(link, follow_redirects=False).headers["location"]
    assert location.startswith("http://127.0.0.1:3000#")


def test_password_recovery(auth_server):
    email = new_email("recover")
    signed_up(auth_server, email)
    c = client(auth_server, flow_type="implicit")
    c.auth.reset_password_for_email(email)
    mail = mailbox(auth_server, email)[0]
    assert mail["mail_type"] == "recovery"
    events = []
    c.auth.on_auth_state_change(lambda event, session: events.append(event))
    c.auth.verify_otp({"email": email, "token": mail["otp"], "type": "recovery"})
    c.auth.update_user({"password": "recovered-pass-7"})
    assert events == ["PASSWORD_RECOVERY", "USER_UPDATED"]
    assert client(auth_server).auth.sign_in_with_password({"email": email, "password": "recovered-pass-7"}).session


def test_recovery_for_unknown_email_answers_the_same(auth_server):
    email = new_email("ghost")
    client(auth_server).auth.reset_password_for_email(email)  # no error, no enumeration
    assert mailbox(auth_server, email) == []


def test_pkce_magic_link_exchange_code_for_session(auth_server):
    email = new_email("pkce")
    signed_up(auth_server, email)
    c = client(auth_server, flow_type="pkce")
    c.auth.sign_in_with_otp({"email": email, "options": {"email_redirect_to": "http://localhost:8000/cb"}})
    link = mailbox(auth_server, email)[0]["action_link"]
    assert "token=pkce_" in link
    location = httpx.get(link, follow_redirects=False).headers["location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    assert location.startswith("http://localhost:8000/cb?code=")
    response = c.auth.exchange_code_for_session({"auth_code": code})
    assert response.user.email == email and response.session is not None
    with pytest.raises(AuthApiError) as info:  # a code is exchanged once
        c.auth.exchange_code_for_session({"auth_code": code, "code_verifier": "x" * 50})
    assert info.value.code == "flow_state_not_found"


def test_pkce_wrong_verifier_is_refused(auth_server):
    email = new_email("pkce-bad")
    signed_up(auth_server, email)
    c = client(auth_server, flow_type="pkce")
    c.auth.sign_in_with_otp({"email": email})
    link = mailbox(auth_server, email)[0]["action_link"]
    code = parse_qs(urlsplit(httpx.get(link, follow_redirects=False).headers["location"]).query)["code"][0]
    with pytest.raises(AuthApiError) as info:
        c.auth.exchange_code_for_session({"auth_code": code, "code_verifier": "y" * 64})
    assert (info.value.status, info.value.code) == (403, "bad_code_verifier")
    assert c.auth.exchange_code_for_session({"auth_code": code}).session  # the right verifier still works


async def test_pkce_recovery_with_async_client(auth_server):
    email = new_email("apkce")
    signed_up(auth_server, email)
    c = await aclient(auth_server, flow_type="pkce")
    await c.auth.reset_password_for_email(email)
    link = mailbox(auth_server, email)[0]["action_link"]
    async with httpx.AsyncClient() as http:
        location = (await http.get(link, follow_redirects=False)).headers["location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    events = []
    c.auth.on_auth_state_change(lambda event, session: events.append(event))
    response = await c.auth.exchange_code_for_session({"auth_code": code})
    assert response.user.email == email and events == ["PASSWORD_RECOVERY"]
    await c.auth.update_user({"password": "pkce-recovered-1"})
    signed_in = await (await aclient(auth_server)).auth.sign_in_with_password(
        {"email": email, "password": "pkce-recovered-1"})
    assert signed_in.session is not None


async def test_async_verify_otp(auth_server):
    email = new_email("aotp")
    c = await aclient(auth_server, flow_type="implicit")
    await c.auth.sign_in_with_otp({"email": email})
    otp = mailbox(auth_server, email)[0]["otp"]
    response = await c.auth.verify_otp({"email": email, "token": otp, "type": "email"})
    assert response.session is not None and (await c.auth.get_user()).user.email == email


def test_settings_reflect_config_toml(auth_server):
    response = httpx.get(f"{auth_server.url}/auth/v1/settings", headers={"apikey": auth_server.anon_key})
    settings = response.json()
    assert response.status_code == 200
    assert settings["external"]["email"] is True and settings["external"]["anonymous_users"] is True
    assert settings["disable_signup"] is False and settings["mailer_autoconfirm"] is True
    assert settings["external"]["github"] is False


def test_health_needs_no_key(auth_server):
    response = httpx.get(f"{auth_server.url}/auth/v1/health")
    assert response.status_code == 200 and response.json()["name"] == "GoTrue"


def test_mailbox_needs_the_service_role_key(auth_server):
    response = httpx.get(f"{auth_server.url}/auth/v1/localbase/mailbox", headers={"apikey": auth_server.anon_key})
    assert response.status_code == 403 and response.json()["error_code"] == "not_admin"


def test_error_shape_without_api_version_header(auth_server):
    response = httpx.post(f"{auth_server.url}/auth/v1/token?grant_type=password",
                          headers={"apikey": auth_server.anon_key},
                          json={"email": new_email(), "password": PASSWORD})
    assert response.status_code == 400
    assert response.json() == {"code": 400, "error_code": "invalid_credentials", "msg": "Invalid login credentials"}
    bad = httpx.post(f"{auth_server.url}/auth/v1/signup", headers={"apikey": auth_server.anon_key},
                     content=b"{not json")
    assert bad.status_code == 400 and bad.json()["error_code"] == "bad_json"
