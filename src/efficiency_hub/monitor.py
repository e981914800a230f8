"""The live monitor: watches efficiency_events INSERTs over Realtime, prints a line per event, and
answers a bad one (efficiency_delta below the threshold) with one `automated_intervention` event,
which gives back the boost or what the event took, whichever is less: the event catalogue lets an
intervention answer only an earlier negative event of the same citizen, never with more than it took
(so recording bad events never raises a score).

Exactly once per triggering event, across restarts and concurrent monitors: an intervention names
its trigger in `triggered_by`, which is unique, so a second attempt is refused by the database
(at most once); and each time the channel (re)joins, the monitor catches up on bad events that have
no intervention yet (at least once)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from realtime import AsyncRealtimeChannel
from realtime.types import PostgresChangesPayload, RealtimePostgresChangesListenEvent
from rich.console import Console
from rich.text import Text

from efficiency_hub import catalogue, clients
from efficiency_hub.errors import Conflict, InvalidEvent, translated
from efficiency_hub.models import INTERVENTION, Event
from supabase import AsyncClient

log = logging.getLogger("efficiency_hub.monitor")


class Monitor:
    def __init__(self, service: AsyncClient, *, threshold: float = -10.0, boost: float = 15.0,
                 catch_up: timedelta = timedelta(hours=24), console: Console | None = None,
                 on_intervention: Callable[[Event], None] | None = None):
        if threshold > 0:
            raise ValueError(f"threshold {threshold:g}: an intervention answers a negative event (use <= 0)")
        self.client = service
        self.threshold = threshold
        self.boost = boost
        self.catch_up_window = catch_up
        self.console = console or Console()
        self.on_intervention = on_intervention
        self.handled = 0
        self.interventions = 0
        self.ready = asyncio.Event()
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._names: dict[str, str] = {}
        self._channel: AsyncRealtimeChannel | None = None

    # -- one event -----------------------------------------------------------------------------
    def needs_intervention(self, event: Event) -> bool:
        return event.event_type != INTERVENTION and event.efficiency_delta < self.threshold

    def boost_for(self, event: Event) -> float:
        """The boost, never more than the event took."""
        return min(self.boost, -event.efficiency_delta)

    async def intervene(self, event: Event) -> Event | None:
        """Records the intervention for `event`; None if one exists already (another monitor, or
        this one before a restart, answered it)."""
        row = {"citizen_id": str(event.citizen_id), "event_type": INTERVENTION,
               "efficiency_delta": self.boost_for(event),
               "triggered_by": event.id,
               "details": {"reason": f"efficiency_delta {event.efficiency_delta:g} below {self.threshold:g}",
                           "triggering_event": event.id, "triggering_type": event.event_type}}
        try:
            with translated():
                rows = (await self.client.table("efficiency_events").insert(row).execute()).data
        except Conflict:
            self._print(Text(f"  event #{event.id} was answered already", style="dim"))
            return None
        intervention = Event.model_validate(rows[0])
        self.interventions += 1
        if self.on_intervention:
            self.on_intervention(intervention)
        return intervention

    async def handle(self, record: dict[str, Any]) -> Event | None:
        event = Event.model_validate(record)
        self.handled += 1
        self._print(await self._line(event))
        if self.needs_intervention(event):
            return await self.intervene(event)
        return None

    async def catch_up(self) -> list[Event]:
        """Answers bad events of the catch-up window that have no intervention yet."""
        since = datetime.now(UTC) - self.catch_up_window
        with translated():
            rows = clients.rows((await self.client.rpc(
                "events_awaiting_intervention", {"p_threshold": self.threshold, "p_since": since.isoformat()})
                .execute()).data)
        answered = []
        for record in rows or []:
            event = Event.model_validate(record)
            self._print(Text(f"  catching up on event #{event.id}", style="yellow"))
            if (done := await self.intervene(event)) is not None:
                answered.append(done)
        return answered

    # -- the live loop -------------------------------------------------------------------------
    async def check_catalogue(self) -> None:
        """Refuses to start with a boost the event catalogue does not allow an intervention
        (InvalidEvent with the allowed range), whatever feeds the monitor its events."""
        kinds = await catalogue.load(self.client)
        kind = kinds.check(INTERVENTION, self.boost)
        if "monitor" not in kind.recorded_by:
            raise InvalidEvent(f"the catalogue does not let the monitor record {INTERVENTION}",
                               code="not_recordable")

    async def start(self) -> None:
        """Checks the boost against the event catalogue, subscribes and catches up; returns once
        live. Then call `process()` (or use `run`)."""
        await self.check_catalogue()
        joined = asyncio.get_running_loop().create_future()

        def on_status(status, error) -> None:
            name = getattr(status, "value", str(status))
            if name == "SUBSCRIBED":
                if not joined.done():
                    joined.set_result(None)
                else:  # a rejoin after a lost connection: answer what happened meanwhile
                    self._queue.put_nowait({"__catch_up__": True})
            elif name in ("CHANNEL_ERROR", "TIMED_OUT") and not joined.done():
                joined.set_exception(RuntimeError(f"realtime subscription failed: {name} {error or ''}"))

        def on_insert(payload: PostgresChangesPayload) -> None:
            self._queue.put_nowait(payload["data"].get("record") or {})

        channel = self.client.channel("efficiency-monitor").on_postgres_changes(
            RealtimePostgresChangesListenEvent.Insert, on_insert, schema="public", table="efficiency_events")
        self._channel = channel
        await channel.subscribe(on_status)
        await asyncio.wait_for(joined, 30)
        await self.catch_up()
        self.ready.set()

    async def process(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        while not stop.is_set():
            getter = asyncio.ensure_future(self._queue.get())
            stopper = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                stopper.cancel()
                break
            stopper.cancel()
            item = getter.result()
            try:
                if item.get("__catch_up__"):
                    await self.catch_up()
                else:
                    await self.handle(item)
            except Exception as exc:  # one bad event must not stop the monitor; it is reported
                log.exception("monitor: could not handle %r", item)
                self._print(Text(f"  error: {exc}", style="bold red"))

    async def run(self, stop: asyncio.Event | None = None) -> None:
        await self.start()
        try:
            await self.process(stop)
        finally:
            await self.close()

    async def close(self) -> None:
        if self._channel is not None:
            await self.client.remove_channel(self._channel)
            self._channel = None

    # -- output --------------------------------------------------------------------------------
    async def _citizen_name(self, citizen_uuid: str) -> str:
        if citizen_uuid not in self._names:
            with translated():
                rows = clients.rows((await self.client.table("citizens").select("citizen_id")
                                     .eq("id", citizen_uuid).limit(1).execute()).data)
            self._names[citizen_uuid] = rows[0]["citizen_id"] if rows else citizen_uuid[:8]
        return self._names[citizen_uuid]

    async def _line(self, event: Event) -> Text:
        who = await self._citizen_name(str(event.citizen_id))
        delta_style = "green" if event.efficiency_delta > 0 else "red" if event.efficiency_delta < 0 else "white"
        line = Text.assemble(
            (event.created_at.astimezone().strftime("%H:%M:%S "), "dim"), (f"#{event.id:<5} ", "dim"),
            (f"{who:<14} ", "cyan"), (f"{event.event_type:<24} ", "bold" if event.event_type == INTERVENTION else ""),
            (f"{event.efficiency_delta:+7.2f} ", delta_style),
            (f"score {event.score_after:6.2f}" if event.score_after is not None else "", "white"))
        if event.event_type == INTERVENTION:
            line.stylize("on dark_green")
        elif self.needs_intervention(event):
            line.append("  -> intervening", style="bold yellow")
        return line

    def _print(self, text: Text) -> None:
        self.console.print(text)
