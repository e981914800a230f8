"""/events: record an efficiency event (the database checks it against the event catalogue and moves
the score in the same transaction); /event-types: the catalogue."""

from __future__ import annotations

from fastapi import APIRouter, Query, status

from efficiency_hub.api.deps import CatalogueDep, TrackerDep
from efficiency_hub.api.schemas import ErrorOut, EventCreate, EventOut
from efficiency_hub.models import EventKind

router = APIRouter(tags=["events"])


@router.post("/events", status_code=status.HTTP_201_CREATED, response_model=EventOut,
             responses={403: {"model": ErrorOut, "description": "not yours to record (see /event-types)"},
                        422: {"model": ErrorOut, "description": "unknown type, or a delta out of its range"}})
async def record_event(body: EventCreate, tracker: TrackerDep, kinds: CatalogueDep) -> EventOut:
    kinds.check(body.event_type, body.efficiency_delta)
    citizen = await tracker.citizen(body.citizen_id) if body.citizen_id else await tracker.me()
    event = await tracker.record_event(citizen, body.event_type, body.efficiency_delta, body.details)
    return EventOut(**event.model_dump(), citizen=citizen.citizen_id)


@router.get("/events", response_model=list[EventOut])
async def recent_events(tracker: TrackerDep, limit: int = Query(50, ge=1, le=500)) -> list[EventOut]:
    """The latest events the caller may see (own, and subordinates')."""
    return [EventOut(**event.model_dump(), citizen=who) for event, who in await tracker.recent_events(limit)]


@router.get("/event-types", response_model=list[EventKind])
async def event_types(kinds: CatalogueDep) -> list[EventKind]:
    """The event catalogue: each type's allowed delta range and who may record it (self, supervisor,
    monitor, service); the database refuses anything else."""
    return list(kinds)
