"""/events: record an efficiency event (the database moves the score in the same transaction)."""

from __future__ import annotations

from fastapi import APIRouter, status

from efficiency_hub.api.deps import TrackerDep
from efficiency_hub.api.schemas import EventCreate, EventOut

router = APIRouter(prefix="/events", tags=["events"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EventOut,
             responses={403: {"description": "not your citizen, or a reserved event type"}})
async def record_event(body: EventCreate, tracker: TrackerDep) -> EventOut:
    citizen = body.citizen_id or await tracker.me()
    event = await tracker.record_event(citizen, body.event_type, body.efficiency_delta, body.details)
    return EventOut(**event.model_dump(), citizen=body.citizen_id or citizen.citizen_id)


@router.get("", response_model=list[EventOut])
async def recent_events(tracker: TrackerDep, limit: int = 50) -> list[EventOut]:
    """The latest events the caller may see (own, and subordinates')."""
    return [EventOut(**event.model_dump(), citizen=who) for event, who in await tracker.recent_events(min(limit, 500))]
