"""MFA with TOTP through supabase-py's `auth.mfa` (enroll, challenge, verify, unenroll, assurance
levels), codes computed with pyotp from the enrolment secret, as an authenticator app would."""

from __future__ import annotations

import jwt as pyjwt
import pyotp
import pytest
from supabase_auth.errors import AuthApiError

from tests.localbase.auth.conftest import PASSWORD, client, db, signed_up


def _aal(session) -> str:
    return pyjwt.decode(session.access_token, options={"verify_signature": False})["aal"]


def _enrolled(c, name: str = "phone app"):
    factor = c.auth.mfa.enroll({"factor_type": "totp", "friendly_name": name, "issuer": "Localbase tests"})
    assert factor.totp.uri.startswith("otpauth://totp/") and "issuer=Localbase" in factor.totp.uri
    assert factor.totp.qr_code.startswith("data:image/svg+xml;utf-8,<svg")
    return factor, pyotp.TOTP(factor.totp.secret)


def test_enrol_verify_and_reach_aal2(auth_server):
    c, signup = signed_up(auth_server)
    c.auth.set_session(signup.session.access_token, signup.session.refresh_token)
    factor, totp = _enrolled(c)
    assert c.auth.mfa.get_authenticator_assurance_level().current_level == "aal1"
    listed = c.auth.mfa.list_factors()
    assert [f.status for f in listed.all] == ["unverified"] and listed.totp == []

    challenge = c.auth.mfa.challenge({"factor_id": factor.id})
    with pytest.raises(AuthApiError) as info:
        c.auth.mfa.verify({"factor_id": factor.id, "challenge_id": challenge.id, "code": "000000"
                           if totp.now() != "000000" else "111111"})
    assert (info.value.status, info.value.code) == (422, "mfa_verification_failed")
    verified = c.auth.mfa.verify({"factor_id": factor.id, "challenge_id": challenge.id, "code": totp.now()})
    claims = pyjwt.decode(verified.access_token, auth_server.jwt_secret, algorithms=["HS256"], audience="authenticated")
    assert claims["aal"] == "aal2" and "totp" in [a["method"] for a in claims["amr"]]
    assert c.auth.mfa.get_authenticator_assurance_level().current_level == "aal2"
    assert [f.status for f in c.auth.mfa.list_factors().totp] == ["verified"]

    # a challenge answers once; refreshing keeps aal2
    with pytest.raises(AuthApiError) as info:
        c.auth.mfa.verify({"factor_id": factor.id, "challenge_id": challenge.id, "code": totp.now()})
    assert info.value.code == "mfa_challenge_expired"
    refreshed = c.auth.refresh_session(verified.refresh_token).session
    assert _aal(refreshed) == "aal2"


def test_a_new_sign_in_of_a_user_with_a_factor_starts_at_aal1(auth_server):
    c, signup = signed_up(auth_server)
    email = signup.user.email
    factor, totp = _enrolled(c)
    c.auth.mfa.challenge_and_verify({"factor_id": factor.id, "code": totp.now()})

    again = client(auth_server)
    session = again.auth.sign_in_with_password({"email": email, "password": PASSWORD}).session
    assert _aal(session) == "aal1"
    level = again.auth.mfa.get_authenticator_assurance_level()
    assert (level.current_level, level.next_level) == ("aal1", "aal2")
    with pytest.raises(AuthApiError) as info:  # a second factor needs aal2 first
        again.auth.mfa.enroll({"factor_type": "totp", "friendly_name": "second"})
    assert info.value.code == "insufficient_aal"
    with pytest.raises(AuthApiError) as info:
        again.auth.mfa.unenroll({"factor_id": factor.id})
    assert info.value.code == "insufficient_aal"
    again.auth.mfa.challenge_and_verify({"factor_id": factor.id, "code": totp.now()})
    assert again.auth.mfa.unenroll({"factor_id": factor.id}).id == factor.id
    assert again.auth.mfa.list_factors().all == []


def test_factors_are_the_users_own_and_names_unique(auth_server):
    a, _ = signed_up(auth_server)
    b, _ = signed_up(auth_server)
    factor, _ = _enrolled(a, "laptop")
    with pytest.raises(AuthApiError) as info:
        b.auth.mfa.challenge({"factor_id": factor.id})
    assert (info.value.status, info.value.code) == (404, "mfa_factor_not_found")
    with pytest.raises(AuthApiError) as info:
        a.auth.mfa.enroll({"factor_type": "totp", "friendly_name": "laptop"})
    assert info.value.code == "mfa_factor_name_conflict"
    with pytest.raises(AuthApiError) as info:
        a.auth.mfa.enroll({"factor_type": "phone", "friendly_name": "sms", "phone": "+15550000000"})
    assert info.value.code == "mfa_phone_enroll_not_enabled"


def test_an_expired_challenge_is_refused(auth_server):
    c, _ = signed_up(auth_server)
    factor, totp = _enrolled(c)
    challenge = c.auth.mfa.challenge({"factor_id": factor.id})
    db(auth_server, "update auth.mfa_challenges set created_at = now() - interval '6 minutes' where id = $1::uuid",
       challenge.id)
    with pytest.raises(AuthApiError) as info:
        c.auth.mfa.verify({"factor_id": factor.id, "challenge_id": challenge.id, "code": totp.now()})
    assert (info.value.status, info.value.code) == (422, "mfa_challenge_expired")


def test_rls_can_require_aal2(auth_server):
    """A policy on `auth.jwt()->>'aal'` sees the level the session reached."""
    db(auth_server, "create table if not exists public.mfa_vault (id int primary key, secret text)")
    db(auth_server, "insert into public.mfa_vault values (1, 'behind a second factor') on conflict do nothing")
    db(auth_server, "alter table public.mfa_vault enable row level security")
    db(auth_server, "grant select on public.mfa_vault to authenticated")
    db(auth_server, "drop policy if exists aal2_only on public.mfa_vault")
    db(auth_server, "create policy aal2_only on public.mfa_vault for select to authenticated "
                    "using ((auth.jwt() ->> 'aal') = 'aal2')")
    db(auth_server, "notify pgrst, 'reload schema'")
    c, _ = signed_up(auth_server)
    factor, totp = _enrolled(c)
    import time
    time.sleep(0.3)
    assert c.table("mfa_vault").select("secret").execute().data == []
    c.auth.mfa.challenge_and_verify({"factor_id": factor.id, "code": totp.now()})
    assert c.table("mfa_vault").select("secret").execute().data == [{"secret": "behind a second factor"}]


def test_verifying_ends_other_aal1_sessions_and_unenrolling_downgrades(auth_server):
    """Review finding: a pre-MFA session (a stolen password) must not survive the owner's MFA."""
    c, signup = signed_up(auth_server)
    email = signup.user.email
    attacker = client(auth_server)
    stolen = attacker.auth.sign_in_with_password({"email": email, "password": PASSWORD}).session
    attacker.auth.mfa.enroll({"factor_type": "totp", "friendly_name": "attacker"})
    factor, totp = _enrolled(c)
    c.auth.mfa.challenge_and_verify({"factor_id": factor.id, "code": totp.now()})
    with pytest.raises(AuthApiError):
        client(auth_server).auth.refresh_session(stolen.refresh_token)
    assert [f.friendly_name for f in c.auth.mfa.list_factors().all] == ["phone app"]
    session = c.auth.get_session()
    c.auth.mfa.unenroll({"factor_id": factor.id})
    assert _aal(c.auth.refresh_session(session.refresh_token).session) == "aal1"


def test_an_unknown_challenge_answers_as_gotrue(auth_server):
    """GoTrue (mfa.go) answers 422 mfa_factor_not_found for a challenge id it does not know."""
    c, signup = signed_up(auth_server)
    c.auth.set_session(signup.session.access_token, signup.session.refresh_token)
    factor, totp = _enrolled(c)
    with pytest.raises(AuthApiError) as info:
        c.auth.mfa.verify({"factor_id": factor.id, "challenge_id": "00000000-0000-4000-8000-000000000000",
                           "code": totp.now()})
    assert (info.value.status, info.value.code) == (422, "mfa_factor_not_found")
