"""Secure password change ([auth.email] secure_password_change): a session signed in more than
24 hours ago changes the password only with the code `auth.reauthenticate()` mails."""

from __future__ import annotations

import pytest
from supabase_auth.errors import AuthApiError

from localbase.testing.plugin import localbase_fixture
from tests.localbase.auth.conftest import PASSWORD, PROJECT, client, db, mailbox, signed_up

secure_server = localbase_fixture(PROJECT, scope="module",
                                  env={"LOCALBASE_AUTH_EMAIL_SECURE_PASSWORD_CHANGE": "true"})


def _aged(server, session) -> None:
    import jwt
    sid = jwt.decode(session.access_token, options={"verify_signature": False})["session_id"]
    db(server, "update auth.sessions set created_at = now() - interval '25 hours' where id = $1::uuid", sid)


def test_a_recent_sign_in_changes_the_password_directly(secure_server):
    c, signup = signed_up(secure_server)
    c.auth.update_user({"password": "a-new-password-1"})
    client(secure_server).auth.sign_in_with_password({"email": signup.user.email, "password": "a-new-password-1"})


def test_an_old_session_needs_the_mailed_nonce(secure_server):
    c, signup = signed_up(secure_server)
    email = signup.user.email
    _aged(secure_server, signup.session)
    with pytest.raises(AuthApiError) as info:
        c.auth.update_user({"password": "another-password-2"})
    assert (info.value.status, info.value.code) == (400, "reauthentication_needed")

    c.auth.reauthenticate()
    (mail,) = [m for m in mailbox(secure_server, email) if m["mail_type"] == "reauthentication"]
    assert mail["subject"] == "Confirm Reauthentication" and mail["otp"] in mail["body"]
    with pytest.raises(AuthApiError) as info:
        wrong = "000000" if mail["otp"] != "000000" else "111111"
        c.auth.update_user({"password": "another-password-2", "nonce": wrong})
    assert (info.value.status, info.value.code) == (422, "reauthentication_not_valid")

    c.auth.update_user({"password": "another-password-2", "nonce": mail["otp"]})
    client(secure_server).auth.sign_in_with_password({"email": email, "password": "another-password-2"})
    with pytest.raises(AuthApiError) as info:  # a nonce works once
        c.auth.update_user({"password": "third-password-3", "nonce": mail["otp"]})
    assert info.value.code == "reauthentication_not_valid"
    with pytest.raises(AuthApiError):
        client(secure_server).auth.sign_in_with_password({"email": email, "password": PASSWORD})


def test_the_nonce_is_not_a_sign_in_code(secure_server):
    """/verify does not take a reauthentication code: it is no way to sign in."""
    c, signup = signed_up(secure_server)
    c.auth.reauthenticate()
    (mail,) = [m for m in mailbox(secure_server, signup.user.email) if m["mail_type"] == "reauthentication"]
    with pytest.raises(AuthApiError):
        client(secure_server).auth.verify_otp({"email": signup.user.email, "token": mail["otp"],
                                               "type": "reauthentication"})
