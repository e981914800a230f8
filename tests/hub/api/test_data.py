"""Citizens, events, the clearance-gated data and workspaces through the running API: each
request runs as its caller, so RLS decides what comes back."""

from __future__ import annotations

from efficiency_hub.models import Clearance
from tests.hub.api.conftest import bearer


async def test_events_move_the_score_and_feed_the_protected_data(api, make_person):
    alice = await make_person(Clearance.yellow)
    me = bearer(alice.token)
    recorded = await api.post("/events", json={"event_type": "task_completed", "efficiency_delta": 7.5,
                                               "details": {"task": "audit"}}, headers=me)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["score_after"] == 82.5 and recorded.json()["citizen"] == alice.citizen_id
    await api.post("/events", json={"citizen_id": alice.citizen_id, "event_type": "slip",
                                    "efficiency_delta": -2.5}, headers=me)
    optimized = await api.post(f"/citizens/{alice.citizen_id}/optimize",
                               json={"completion_time": 1800, "automation_level": 1.5}, headers=me)
    assert optimized.status_code == 200 and optimized.json()["optimization_score"] == 67.5

    data = await api.get("/protected/efficiency-data", headers=me)
    assert data.status_code == 200, data.text
    body = data.json()
    assert body["efficiency_score"] == 80 and body["clearance_level"] == "yellow"
    assert [e["event_type"] for e in body["recent_events"]] == ["slip", "task_completed"]
    assert body["metrics"]["optimization_score"] == 67.5 and body["metrics"]["delegation_efficiency"] == "maximum"
    assert body["trend"] == {"events_recent": 2, "delta_recent": 5.0, "delta_previous": 0.0,
                             "direction": "improving", "days": 7}


async def test_infrared_clearance_is_403(api, make_person):
    low = await make_person(Clearance.infrared)
    answer = await api.get("/protected/efficiency-data", headers=bearer(low.token))
    assert answer.status_code == 403 and answer.json()["code"] == "insufficient_clearance"
    assert "infrared" in answer.json()["detail"]


async def test_other_citizens_are_404_and_their_events_403(api, make_person):
    alice, bob = await make_person(), await make_person()
    me = bearer(alice.token)
    assert (await api.get(f"/citizens/{alice.citizen_id}", headers=me)).status_code == 200
    hidden = await api.get(f"/citizens/{bob.citizen_id}", headers=me)
    assert hidden.status_code == 404 and bob.citizen_id in hidden.json()["detail"]
    forged = await api.post("/events", json={"citizen_id": bob.citizen_id, "event_type": "outage",
                                             "efficiency_delta": -50}, headers=me)
    assert forged.status_code == 404  # not even visible
    reserved = await api.post("/events", json={"event_type": "automated_intervention", "efficiency_delta": 15},
                              headers=me)
    assert reserved.status_code == 403, reserved.text
    assert (await api.get(f"/citizens/{bob.citizen_id}/metrics", headers=me)).status_code == 404


async def test_a_supervisor_reads_subordinates_but_does_not_write_for_them(api, make_person, admin):
    boss, worker = await make_person(Clearance.violet), await make_person()
    await admin.assign_supervisor(boss.citizen_id, worker.citizen_id)
    await api.post("/events", json={"event_type": "task_completed", "efficiency_delta": 1},
                   headers=bearer(worker.token))
    seen = await api.get("/citizens", headers=bearer(boss.token))
    assert {c["citizen_id"] for c in seen.json()} == {boss.citizen_id, worker.citizen_id}
    events = await api.get(f"/citizens/{worker.citizen_id}/events", headers=bearer(boss.token))
    assert [e["event_type"] for e in events.json()] == ["task_completed"]
    refused = await api.post("/events", json={"citizen_id": worker.citizen_id, "event_type": "task_completed",
                                              "efficiency_delta": 10}, headers=bearer(boss.token))
    assert refused.status_code == 403 and "not by supervisor" in refused.json()["detail"]


async def test_bad_bodies_are_422_and_missing_tokens_401(api, make_person):
    alice = await make_person()
    me = bearer(alice.token)
    for body in ({"event_type": "x", "efficiency_delta": 101}, {"event_type": "Bad Type"},
                 {"event_type": "ok", "details": [1]}, {"event_type": "ok", "surprise": 1}):
        assert (await api.post("/events", json=body, headers=me)).status_code == 422, body
    assert (await api.get("/citizens/not-an-id", headers=me)).status_code == 422
    missing = await api.post("/events", json={"event_type": "ok"})
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"


async def test_workspaces(api, make_person):
    owner, member, low = (await make_person(Clearance.indigo), await make_person(Clearance.indigo),
                          await make_person(Clearance.red))
    created = await api.post("/workspaces", json={"name": "Indigo lab", "clearance_requirement": "indigo"},
                             headers=bearer(owner.token))
    assert created.status_code == 201, created.text
    ws = created.json()["workspace_id"]
    added = await api.post(f"/workspaces/{ws}/members", json={"citizen_id": member.citizen_id},
                           headers=bearer(owner.token))
    assert added.status_code == 201, added.text
    again = await api.post(f"/workspaces/{ws}/members", json={"citizen_id": member.citizen_id},
                           headers=bearer(owner.token))
    assert again.status_code == 409
    too_low = await api.post(f"/workspaces/{ws}/members", json={"citizen_id": low.citizen_id},
                             headers=bearer(owner.token))
    assert too_low.status_code == 403 and "requires indigo" in too_low.json()["detail"]
    assert [w["name"] for w in (await api.get("/workspaces", headers=bearer(member.token))).json()] == ["Indigo lab"]
    assert len((await api.get(f"/workspaces/{ws}/members", headers=bearer(member.token))).json()) == 2
    assert (await api.get(f"/workspaces/{ws}", headers=bearer(low.token))).status_code == 404
    above = await api.post("/workspaces", json={"name": "UV", "clearance_requirement": "ultraviolet"},
                           headers=bearer(low.token))
    assert above.status_code == 403


async def test_openapi_docs_are_served(api):
    assert (await api.get("/docs")).status_code == 200
    paths = (await api.get("/openapi.json")).json()["paths"]
    assert {"/auth/register", "/auth/login", "/auth/refresh", "/auth/logout", "/auth/profile",
            "/citizens/{citizen_id}", "/events", "/protected/efficiency-data", "/workspaces"} <= set(paths)


async def test_health_says_the_api_holds_no_service_role_key(api):
    assert (await api.get("/health")).json()["service_role_configured"] is False
