"""/events: record an efficiency event (the database checks it against the event catalogue and moves
the score in the same transaction); /event-types: the catalogue."""

from __future__ import annotations

from fastapi import APIRouter, Query, status

from efficiency_hub.api.deps import CatalogueDep, TrackerDep
from efficiency_hub.api.schemas import EventCreate, EventOut
from efficiency_hub.models import EventKind

router = APIRouter(tags=["events"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EventOut,
             responses={403: {"description": "not your citizen, or a reserved event type"}})
async def record_event(body: EventCreate, tracker: TrackerDep) -> EventOut:
    citizen = body.citizen_id or await tracker.me()  # the caller's own citizen, read once
    event = await tracker.record_event(citizen, body.event_type, body.efficiency_delta, body.details)
    return EventOut(**event.model_dump(), citizen=citizen if isinstance(citizen, str) else citizen.citizen_id)


@router.get("/events", response_model=list[EventOut])
async def recent_events(tracker: TrackerDep, limit: int = Query(50, ge=1, le=500)) -> list[EventOut]:
    """The latest events the caller may see (own, and subordinates')."""
    return [EventOut(**event.model_dump(), citizen=who) for event, who in await tracker.recent_events(limit)]


@router.get("/event-types", response_model=list[EventKind])
async def event_types(kinds: CatalogueDep) -> list[EventKind]:
    """The event catalogue: each type's allowed delta range and who may record it (self, supervisor,
    monitor, service); the database refuses anything else."""
    return list(kinds)
