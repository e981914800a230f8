"""Hub integrity against raw REST with a citizen's own JWT (supabase-py, no hub code in between):
citizens never set their own score. The event catalogue (public.event_types) decides which events
exist, how far each may move a score and who may record it, and the database enforces it."""

from __future__ import annotations

import asyncio

import pytest
from postgrest.exceptions import APIError

from efficiency_hub.models import INTERVENTION, Clearance
from efficiency_hub.tracker import Tracker


def event(person, event_type: str, delta: float, **extra) -> dict:
    return {"citizen_id": str(person.citizen.id), "event_type": event_type, "efficiency_delta": delta, **extra}


async def refused(client, row: dict) -> APIError:
    with pytest.raises(APIError) as info:
        await client.table("efficiency_events").insert(row).execute()
    return info.value


async def score(service, person) -> float:
    rows = (await service.table("citizens").select("efficiency_score").eq("id", str(person.citizen.id))
            .execute()).data
    return float(rows[0]["efficiency_score"])


async def test_a_citizen_cannot_set_their_own_score_with_one_event(make_person, as_user, service):
    alice = await make_person()
    client = await as_user(alice)
    too_much = await refused(client, event(alice, "task_completed", 100))
    assert too_much.code == "23514" and "outside the range of task_completed" in too_much.message
    assert too_much.hint == "allowed: 0 to 10"
    unknown = await refused(client, event(alice, "bonus", 25))
    assert unknown.code == "23514" and 'unknown event type "bonus"' in unknown.message
    operators_only = await refused(client, event(alice, "score_adjustment", 25))
    assert operators_only.code == "42501" and "recorded by service only" in operators_only.message
    reserved = await refused(client, event(alice, INTERVENTION, 25))  # RLS: the monitor's alone
    assert reserved.code == "42501"
    praise = await refused(client, event(alice, "commendation", 20))  # a supervisor's, not their own
    assert praise.code == "42501" and "not by self" in praise.message
    assert await score(service, alice) == 75  # nothing was applied
    # what the catalogue allows goes through, and says who recorded it
    done = (await client.table("efficiency_events").insert(event(alice, "task_completed", 10)).execute()).data[0]
    assert (float(done["score_after"]), done["recorded_by"]) == (85, "self")


async def test_a_citizen_cannot_farm_their_score_with_repeated_or_backdated_events(make_person, as_user, service):
    bob = await make_person()
    client = await as_user(bob)
    await client.table("efficiency_events").insert(event(bob, "task_completed", 10)).execute()
    # a backdated event is recorded now all the same, so it counts towards today's cap
    backdated = (await client.table("efficiency_events")
                 .insert(event(bob, "task_completed", 10, created_at="2000-01-01T00:00:00Z")).execute()).data[0]
    assert not backdated["created_at"].startswith("2000")
    capped = await refused(client, event(bob, "task_completed", 1))
    assert capped.code == "23514" and "at most 20 points a day" in capped.message
    # other self-recorded types have caps of their own, and losses are never capped
    await client.table("efficiency_events").insert(event(bob, "report_filed", 5)).execute()
    await client.table("efficiency_events").insert(event(bob, "slip", -5)).execute()
    assert await score(service, bob) == 75 + 10 + 10 + 5 - 5


async def test_concurrent_events_cannot_slip_past_the_daily_cap(make_person, as_user, service):
    carol = await make_person()
    clients = [await as_user(carol) for _ in range(6)]

    async def one(client):
        try:
            await client.table("efficiency_events").insert(event(carol, "task_completed", 10)).execute()
            return True
        except APIError as exc:
            assert exc.code == "23514", exc
            return False

    results = await asyncio.gather(*(one(client) for client in clients))
    assert sum(results) == 2  # 20 points a day, however the requests interleave
    assert await score(service, carol) == 95


async def test_the_catalogue_is_read_only_for_citizens(make_person, as_user):
    client = await as_user(await make_person())
    kinds = {row["event_type"]: row for row in (await client.table("event_types").select("*").execute()).data}
    assert kinds["task_completed"]["recorded_by"] == ["self", "service"]
    with pytest.raises(APIError) as info:
        await client.table("event_types").update({"max_delta": 100}).eq("event_type", "task_completed").execute()
    assert info.value.code == "42501"
    with pytest.raises(APIError) as info:
        await client.table("event_types").insert(
            {"event_type": "jackpot", "description": "x", "min_delta": 0, "max_delta": 100,
             "recorded_by": ["self"]}).execute()
    assert info.value.code == "42501"


async def test_supervisors_record_only_supervisor_events_and_only_for_their_reports(make_person, as_user, admin,
                                                                                    service):
    boss, worker, outsider = await make_person(Clearance.violet), await make_person(), await make_person()
    await admin.assign_supervisor(boss.citizen_id, worker.citizen_id)
    client = await as_user(boss)
    praised = (await client.table("efficiency_events").insert(event(worker, "commendation", 20)).execute()).data[0]
    assert praised["recorded_by"] == "supervisor" and float(praised["score_after"]) == 95
    not_theirs = await refused(client, event(worker, "task_completed", 5))
    assert not_theirs.code == "42501" and "not by supervisor" in not_theirs.message
    stranger = await refused(client, event(outsider, "commendation", 20))
    assert stranger.code == "42501"
    assert await score(service, outsider) == 75


async def test_interventions_give_back_at_most_what_a_bad_event_of_the_same_citizen_took(make_person, as_user,
                                                                                         service):
    dave, erin = await make_person(), await make_person()
    tracker = Tracker(await as_user(dave))
    bad = await tracker.record_event(dave.citizen_id, "outage", -11)
    good = await tracker.record_event(dave.citizen_id, "task_completed", 5)
    for row, why in ((event(dave, INTERVENTION, 25, triggered_by=bad.id), "at most what event"),
                     (event(dave, INTERVENTION, 5, triggered_by=good.id), "earlier negative event"),
                     (event(erin, INTERVENTION, 5, triggered_by=bad.id), "same citizen"),
                     (event(dave, INTERVENTION, 5), "recorded by monitor only")):
        error = await refused(service, row)
        assert why in error.message, (row, error)
    answer = (await service.table("efficiency_events").insert(event(dave, INTERVENTION, 11, triggered_by=bad.id))
              .execute()).data[0]
    assert answer["recorded_by"] == "monitor" and float(answer["score_after"]) == 75 - 11 + 5 + 11
