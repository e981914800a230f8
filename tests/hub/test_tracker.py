"""The tracker through the supabase client on the hub's schema: events move scores in the same
transaction (clamped), metrics and trends read back, errors are typed with the server's message."""

from __future__ import annotations

import asyncio

import pytest

from efficiency_hub.errors import InvalidInput, NotFound, PermissionDenied
from efficiency_hub.models import INTERVENTION, Clearance
from efficiency_hub.tracker import Tracker


async def test_an_event_moves_the_score_and_records_it_on_the_event(make_person, as_user):
    alice = await make_person()
    tracker = Tracker(await as_user(alice))
    event = await tracker.record_event(alice.citizen_id, "task_completed", 5, {"task": "report"})
    assert event.score_after == 80 and event.details == {"task": "report"}
    assert (await tracker.citizen(alice.citizen_id)).efficiency_score == 80


async def test_the_score_is_clamped_to_0_and_100(make_person, service):
    bob = await make_person()
    tracker = Tracker(service)  # an operator's adjustments (the catalogue's score_adjustment: service only)
    assert (await tracker.record_event(bob.citizen_id, "score_adjustment", 60)).score_after == 100
    assert (await tracker.record_event(bob.citizen_id, "score_adjustment", -100)).score_after == 0
    assert (await tracker.record_event(bob.citizen_id, "score_adjustment", 12.5)).score_after == 12.5


async def test_concurrent_events_add_up_exactly(make_person, as_user):
    carol = await make_person()
    tracker = Tracker(await as_user(carol))
    await asyncio.gather(*(tracker.record_event(carol.citizen_id, "slip", -1) for _ in range(20)))
    assert (await tracker.citizen(carol.citizen_id)).efficiency_score == 55
    assert len(await tracker.events(carol.citizen_id, limit=100)) == 20


async def test_bad_events_are_refused_with_the_servers_message(make_person, as_user):
    dave = await make_person()
    tracker = Tracker(await as_user(dave))
    with pytest.raises(InvalidInput, match="outside the range of task_completed"):
        await tracker.record_event(dave.citizen_id, "task_completed", 150)
    with pytest.raises(InvalidInput, match="unknown event type"):
        await tracker.record_event(dave.citizen_id, "Not Snake Case", 1)
    with pytest.raises(PermissionDenied, match="recorded by monitor only"):
        await tracker.record_event(dave.citizen_id, INTERVENTION, 15)  # the monitor's alone
    with pytest.raises(NotFound):
        await tracker.record_event("EFF-2025-999999", "task_completed", 1)
    assert (await tracker.citizen(dave.citizen_id)).efficiency_score == 75  # nothing was applied


async def test_trend_and_metrics(make_person, as_user, service):
    erin = await make_person()
    tracker = Tracker(await as_user(erin))
    assert (await tracker.trend(erin.citizen_id)).direction == "stable"
    await tracker.record_event(erin.citizen_id, "task_completed", 4)
    await tracker.record_event(erin.citizen_id, "slip", -1)
    trend = await tracker.trend(erin.citizen_id)
    assert (trend.events_recent, trend.delta_recent, trend.direction) == (2, 3, "improving")
    assert await tracker.metrics(erin.citizen_id) is None
    # events older than the window count in the previous period (backdated by the service role)
    await service.table("efficiency_events").update({"created_at": "2000-01-01T00:00:00Z"}) \
        .eq("citizen_id", str(erin.citizen.id)).eq("event_type", "task_completed").execute()
    trend = await tracker.trend(erin.citizen_id)
    assert (trend.events_recent, trend.delta_recent, trend.direction) == (1, -1, "declining")


async def test_citizens_by_clearance(make_person, service):
    blue = await make_person(Clearance.blue)
    tracker = Tracker(service)
    listed = await tracker.citizens(clearance=Clearance.blue, limit=1000)
    assert blue.citizen_id in {c.citizen_id for c in listed}
    assert {c.clearance_level for c in listed} == {Clearance.blue}
