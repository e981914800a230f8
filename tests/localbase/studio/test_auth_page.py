"""The Auth page in the browser: create a user, find them, ban (they can no longer sign in) and
unban them, invite someone (the mail lands in the mailbox), a magic link's code and a phone code read
off the page sign in, reset MFA, delete - every action the Auth admin API's, checked through
supabase-py as an app would see it."""

from __future__ import annotations

import random
import re
import uuid

import pyotp
import pytest
from playwright.async_api import expect
from supabase_auth.errors import AuthApiError

from supabase import ClientOptions, create_client
from tests.localbase.helpers import sql
from tests.localbase.studio.conftest import PASSWORD, shot


def anon(server):
    return create_client(server.url, server.anon_key,
                         options=ClientOptions(auto_refresh_token=False, persist_session=False))


def sign_in(server, email: str):
    return anon(server).auth.sign_in_with_password({"email": email, "password": PASSWORD})


async def test_create_and_ban_a_user(studio, studio_server):
    email = f"carol-{uuid.uuid4().hex[:8]}@example.com"
    await studio.goto("/auth")
    form = studio.locator("#create-user")
    await form.locator('input[name="email"]').fill(email)
    await form.locator('input[name="password"]').fill(PASSWORD)
    await form.get_by_role("button", name="Create user").click()
    await expect(studio.locator("h1")).to_contain_text(email)
    await expect(studio.locator("#user-status")).to_have_text("active")
    await expect(studio.locator("#identities")).to_contain_text("email")
    assert sign_in(studio_server, email).session is not None  # a session now shows on the page
    await studio.reload()
    await expect(studio.locator("#sessions tbody tr")).to_have_count(1)
    await shot(studio, "auth-user")

    studio.once("dialog", lambda d: d.accept())
    await studio.locator("#ban").get_by_role("button", name="Ban").click()
    await expect(studio.locator("#user-status")).to_contain_text("banned until")
    with pytest.raises(AuthApiError) as info:
        sign_in(studio_server, email)
    assert info.value.code == "user_banned"

    await studio.locator("#unban").get_by_role("button", name="Unban").click()
    await expect(studio.locator("#user-status")).to_have_text("active")
    assert sign_in(studio_server, email).session is not None

    await studio.goto("/auth?q=" + email.split("@")[0])
    await expect(studio.locator("#users tbody tr")).to_have_count(1)
    await expect(studio.locator(f'#users tr[data-user="{email}"]')).to_contain_text("active")
    await shot(studio, "auth")


async def test_invite_lands_in_the_mailbox(studio, studio_server):
    email = f"dave-{uuid.uuid4().hex[:8]}@example.com"
    await studio.goto("/auth")
    await studio.locator('#invite-user input[name="email"]').fill(email)
    await studio.locator("#invite-user").get_by_role("button").click()
    await expect(studio.locator("h1")).to_contain_text(email)
    await studio.get_by_role("link", name="their mail").click()
    mail = studio.locator(f'details.mail[data-recipient="{email}"]')
    await expect(mail).to_contain_text("You have been invited")
    assert "/auth/v1/verify?" in await mail.get_by_role("link", name="open the link").get_attribute("href")
    await shot(studio, "mailbox")
    # the same through supabase-py: an invitation to a new address is sent, not refused as "too soon"
    admin = create_client(studio_server.url, studio_server.service_role_key,
                          options=ClientOptions(auto_refresh_token=False, persist_session=False))
    invited = admin.auth.admin.invite_user_by_email(f"erin-{uuid.uuid4().hex[:8]}@example.com")
    assert invited.user.invited_at is not None


async def test_a_magic_links_code_read_in_the_mailbox_signs_in(studio, studio_server, make_user):
    _, email = make_user("grace")
    anon(studio_server).auth.sign_in_with_otp({"email": email, "options": {"should_create_user": False}})
    await studio.goto("/auth/mailbox?email=" + email)
    mail = studio.locator(f'details.mail[data-recipient="{email}"]')
    await expect(mail).to_have_count(1)
    await expect(mail.locator("summary")).to_contain_text("Your Magic Link")
    await expect(mail.locator("summary")).to_contain_text("magiclink")
    code = (await mail.locator("code").text_content() or "").strip()
    assert re.fullmatch(r"\d{6}", code), code
    session = anon(studio_server).auth.verify_otp({"email": email, "token": code, "type": "email"}).session
    assert session is not None and session.user.email == email


async def test_a_phone_code_read_in_the_outbox_signs_in(studio, studio_server):
    phone = f"+1555{random.randrange(10**6, 10**7)}"
    anon(studio_server).auth.sign_in_with_otp({"phone": phone})
    await studio.goto("/auth")
    await studio.get_by_role("link", name="text messages").click()
    await expect(studio.locator("h1")).to_contain_text("Text messages")
    await studio.locator('input[name="phone"]').fill(phone)
    await studio.get_by_role("button", name="Show").click()
    rows = studio.locator("#texts tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text(phone)
    await expect(rows.first).to_contain_text("Your code is")
    code = (await rows.first.locator("code").text_content() or "").strip()
    session = anon(studio_server).auth.verify_otp({"phone": phone, "token": code, "type": "sms"}).session
    assert session is not None and session.user.phone == phone.removeprefix("+")
    await shot(studio, "texts")

    await studio.goto("/auth?q=" + phone.removeprefix("+"))  # the user page links to their texts
    await studio.locator("#users tbody a").first.click()
    await studio.get_by_role("link", name="their texts").click()
    await expect(studio.locator("#texts tbody tr")).to_have_count(1)


async def test_reset_mfa_and_delete(studio, studio_server, make_user):
    user_id, email = make_user("frank")
    client = anon(studio_server)
    client.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    factor = client.auth.mfa.enroll({"factor_type": "totp", "friendly_name": "phone"})
    client.auth.mfa.challenge_and_verify({"factor_id": factor.id, "code": pyotp.TOTP(factor.totp.secret).now()})
    await studio.goto(f"/auth/users/{user_id}")
    await expect(studio.locator("#factors")).to_contain_text("verified")
    studio.once("dialog", lambda d: d.accept())
    await studio.locator("#reset-mfa").get_by_role("button").click()
    await expect(studio.locator("#factors")).to_contain_text("none")
    factors = sql(studio_server, "select count(*) from auth.mfa_factors where user_id = $1::uuid", user_id)
    assert factors[0]["count"] == 0

    studio.once("dialog", lambda d: d.accept())
    await studio.locator("#delete-user").get_by_role("button").click()
    await expect(studio).to_have_url(re.compile(r"/auth$"))  # the user's page also says "Auth" in its heading
    assert sql(studio_server, "select count(*) from auth.users where id = $1::uuid", user_id)[0]["count"] == 0
