"""/auth through the running API: register (the trigger creates the citizen), login, refresh,
logout, profile; and the registration errors."""

from __future__ import annotations

import uuid

from tests.hub.api.conftest import bearer
from tests.hub.conftest import PASSWORD, new_citizen_id


def registration(**overrides) -> dict:
    citizen_id = new_citizen_id()
    return {"email": f"{citizen_id.lower()}-{uuid.uuid4().hex[:6]}@example.com", "password": PASSWORD,
            "citizen_id": citizen_id, "name": "Rita Register", "specialization": "logistics", **overrides}


async def test_register_login_profile_refresh_logout(api):
    body = registration()
    created = await api.post("/auth/register", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["citizen_id"] == body["citizen_id"] and created.json()["confirmation_required"] is False

    login = await api.post("/auth/login", json={"email": body["email"], "password": body["password"]})
    assert login.status_code == 200, login.text
    session = login.json()
    profile = await api.get("/auth/profile", headers=bearer(session["access_token"]))
    assert profile.status_code == 200, profile.text
    citizen = profile.json()["citizen"]
    assert (citizen["citizen_id"], citizen["name"], citizen["clearance_level"], citizen["efficiency_score"]) == \
        (body["citizen_id"], "Rita Register", "infrared", 75)
    assert citizen["specialization"] == "logistics" and profile.json()["email"] == body["email"]

    refreshed = await api.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert refreshed.status_code == 200 and refreshed.json()["refresh_token"] != session["refresh_token"]
    # a refresh token is used once (rotation)
    again = await api.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert again.status_code in (200, 401)  # within the reuse interval Supabase hands the same session back

    new = refreshed.json()
    assert (await api.post("/auth/logout", headers=bearer(new["access_token"]))).status_code == 204
    after = await api.post("/auth/refresh", json={"refresh_token": new["refresh_token"]})
    assert after.status_code == 401, after.text


async def test_a_self_registered_citizen_cannot_claim_a_clearance(api):
    body = registration()
    sent = await api.post("/auth/register", json={**body, "clearance_level": "ultraviolet"})
    assert sent.status_code == 422  # not a field of the request
    assert "clearance_level" in sent.text


async def test_duplicate_email_and_citizen_id_are_409(api):
    body = registration()
    assert (await api.post("/auth/register", json=body)).status_code == 201
    same_email = await api.post("/auth/register", json={**registration(), "email": body["email"]})
    assert same_email.status_code == 409 and "already" in same_email.json()["detail"]
    same_id = await api.post("/auth/register", json={**registration(), "citizen_id": body["citizen_id"]})
    assert same_id.status_code == 409 and body["citizen_id"] in same_id.json()["detail"]


async def test_weak_password_is_400_with_the_policy(api):
    for weak in ("short1A", "alllowercase1", "NoDigitsHere"):
        answer = await api.post("/auth/register", json=registration(password=weak))
        assert answer.status_code == 400, (weak, answer.text)
        assert answer.json()["code"] == "weak_password" and "Password" in answer.json()["detail"]


async def test_bad_citizen_id_and_email_are_422(api):
    for bad in ({"citizen_id": "EFF-25-1"}, {"citizen_id": "'; drop table citizens; --"},
                {"email": "not-an-email"}, {"name": ""}):
        answer = await api.post("/auth/register", json=registration(**bad))
        assert answer.status_code == 422, (bad, answer.text)


async def test_login_failures_are_401(api):
    body = registration()
    await api.post("/auth/register", json=body)
    wrong = await api.post("/auth/login", json={"email": body["email"], "password": "Wrong-passw0rd"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"
    assert (await api.get("/auth/profile")).status_code == 401
    assert (await api.get("/auth/profile", headers=bearer("not.a.jwt"))).status_code == 401
