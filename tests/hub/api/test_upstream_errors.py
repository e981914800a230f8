"""The backend's refusals through the API keep their status and the hub's one error shape
({"detail", "code", "hint"}), with PostgREST's code and the database's own message and hint."""

from __future__ import annotations

import jwt

from efficiency_hub.models import Clearance
from tests.hub.api.conftest import bearer


async def test_a_token_the_backend_refuses_is_401_with_postgrest_s_code(api, make_person):
    alice = await make_person()
    claims = jwt.decode(alice.token, options={"verify_signature": False})
    other_key = "not-the-project-s-key-but-32-bytes-or-more"
    forged = jwt.encode({**claims, "sub": "00000000-0000-0000-0000-000000000000"}, other_key, algorithm="HS256")
    for path in (f"/citizens/{alice.citizen_id}", "/citizens", "/protected/efficiency-data"):
        answer = await api.get(path, headers=bearer(forged))
        assert answer.status_code == 401, (path, answer.text)
        assert set(answer.json()) == {"detail", "code", "hint"} and answer.json()["code"] == "PGRST301", answer.text
        assert answer.headers["www-authenticate"] == "Bearer"
    assert (await api.get(f"/citizens/{alice.citizen_id}", headers=bearer(alice.token))).status_code == 200


async def test_a_database_refusal_keeps_its_code_message_and_hint(api, make_person):
    owner, low = await make_person(Clearance.indigo), await make_person(Clearance.red)
    created = await api.post("/workspaces", json={"name": "Indigo room", "clearance_requirement": "indigo"},
                             headers=bearer(owner.token))
    assert created.status_code == 201, created.text
    refused = await api.post(f"/workspaces/{created.json()['workspace_id']}/members",
                             json={"citizen_id": low.citizen_id}, headers=bearer(owner.token))
    assert refused.status_code == 403, refused.text
    body = refused.json()
    assert body["code"] == "42501" and "requires indigo" in body["detail"]
    assert body["hint"] == "an operator grants clearance"
    unknown = await api.get("/workspaces/00000000-0000-0000-0000-000000000000", headers=bearer(owner.token))
    assert unknown.status_code == 404 and set(unknown.json()) == {"detail", "code", "hint"}
