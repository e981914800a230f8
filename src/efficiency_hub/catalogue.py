"""The event catalogue (public.event_types): which events exist, how far each may move a score and
who may record it. The database enforces it on every insert, whatever the client; the hub reads it
to refuse a bad event before sending it, with the allowed range in the answer."""

from __future__ import annotations

from collections.abc import Iterable

from efficiency_hub.clients import Client
from efficiency_hub.errors import InvalidEvent, translated
from efficiency_hub.models import EventKind


class Catalogue:
    def __init__(self, kinds: Iterable[EventKind]):
        self.kinds = {kind.event_type: kind for kind in kinds}

    def __iter__(self):
        return iter(self.kinds.values())

    def check(self, event_type: str, efficiency_delta: float) -> EventKind:
        """The catalogue's entry for this event, or InvalidEvent (422) saying what is allowed."""
        kind = self.kinds.get(event_type)
        if kind is None:
            raise InvalidEvent(f"unknown event type '{event_type}'", code="unknown_event_type",
                               hint="one of: " + ", ".join(sorted(self.kinds)))
        if not kind.min_delta <= efficiency_delta <= kind.max_delta:
            raise InvalidEvent(f"efficiency_delta {efficiency_delta:g} is outside the range of {event_type}",
                               code="delta_out_of_range",
                               hint=f"allowed: {kind.min_delta:g} to {kind.max_delta:g}")
        return kind


async def load(client: Client) -> Catalogue:
    """The catalogue as the client may read it (signed-in users and the service role)."""
    with translated():
        rows = (await client.table("event_types").select("*").order("event_type").execute()).data
    return Catalogue(EventKind.model_validate(row) for row in rows)
