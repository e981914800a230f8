"""The API checks an event against the catalogue before sending it (422 naming what is allowed),
lists the catalogue, and answers bad paging with 422, never a 5xx."""

from __future__ import annotations

from tests.hub.api.conftest import bearer


async def test_a_score_setting_event_is_422_with_the_allowed_range(api, make_person, service):
    alice = await make_person()
    me = bearer(alice.token)
    too_much = await api.post("/events", json={"event_type": "task_completed", "efficiency_delta": 100}, headers=me)
    assert too_much.status_code == 422, too_much.text
    assert too_much.json() == {"detail": "efficiency_delta 100 is outside the range of task_completed",
                               "code": "delta_out_of_range", "hint": "allowed: 0 to 10"}
    unknown = await api.post("/events", json={"event_type": "bonus", "efficiency_delta": 5}, headers=me)
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_event_type"
    assert "task_completed" in unknown.json()["hint"]
    operators_only = await api.post("/events", json={"event_type": "score_adjustment", "efficiency_delta": 25},
                                    headers=me)
    assert operators_only.status_code == 403 and "recorded by service only" in operators_only.json()["detail"]
    rows = (await service.table("citizens").select("efficiency_score").eq("citizen_id", alice.citizen_id)
            .execute()).data
    assert float(rows[0]["efficiency_score"]) == 75


async def test_the_catalogue_is_listed(api, make_person):
    kinds = await api.get("/event-types", headers=bearer((await make_person()).token))
    assert kinds.status_code == 200
    by_type = {kind["event_type"]: kind for kind in kinds.json()}
    assert by_type["automated_intervention"]["recorded_by"] == ["monitor"]
    assert (by_type["task_completed"]["min_delta"], by_type["task_completed"]["max_delta"]) == (0, 10)
    assert (await api.get("/event-types")).status_code == 401


async def test_bad_paging_is_422_not_a_backend_error(api, make_person):
    me = bearer((await make_person()).token)
    for limit in ("-5", "0", "501", "x"):
        answer = await api.get("/events", params={"limit": limit}, headers=me)
        assert answer.status_code == 422, (limit, answer.status_code, answer.text)
    assert (await api.get("/events", params={"limit": "5"}, headers=me)).status_code == 200
