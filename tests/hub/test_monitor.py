"""The live monitor over Realtime: a bad event gets exactly one automated intervention (+15, never
more than the event took), while it runs, after a restart (catch-up), and with two monitors at once."""

from __future__ import annotations

import asyncio
import io
import time

from rich.console import Console

from efficiency_hub.clients import service_client
from efficiency_hub.models import INTERVENTION
from efficiency_hub.monitor import Monitor
from efficiency_hub.tracker import Tracker


async def interventions_for(service, event_id: int) -> list[dict]:
    return (await service.table("efficiency_events").select("*").eq("triggered_by", event_id).execute()).data


async def wait_for_interventions(service, event_id: int, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if rows := await interventions_for(service, event_id):
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"no intervention for event {event_id} within {timeout}s")


class Running:
    """A monitor on its own service client, running in the background."""

    def __init__(self, settings, out: io.StringIO | None = None):
        self.settings = settings
        self.out = out or io.StringIO()
        self.stop = asyncio.Event()

    async def __aenter__(self) -> Monitor:
        self.client = await service_client(self.settings)
        self.monitor = Monitor(self.client, console=Console(file=self.out, width=160, no_color=True))
        await self.monitor.start()
        self.task = asyncio.create_task(self.monitor.process(self.stop))
        return self.monitor

    async def __aexit__(self, *exc) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 5)
        await self.monitor.close()
        await self.client.realtime.close()


async def test_a_bad_event_gets_one_intervention(make_person, as_user, settings, service):
    out = io.StringIO()
    alice = await make_person()
    tracker = Tracker(await as_user(alice))
    async with Running(settings, out) as monitor:
        answered: list = []  # live answers only: start-up's catch-up may answer earlier tests' events
        monitor.on_intervention = answered.append
        bad = await tracker.record_event(alice.citizen_id, "missed_deadline", -20, {"project": "x"})
        fine = await tracker.record_event(alice.citizen_id, "slip", -5)
        [intervention] = await wait_for_interventions(service, bad.id)
        await asyncio.sleep(0.5)
        assert await interventions_for(service, fine.id) == []
    assert intervention["event_type"] == INTERVENTION and float(intervention["efficiency_delta"]) == 15
    assert intervention["details"]["triggering_event"] == bad.id
    # 75 - 20 - 5 + 15
    assert (await tracker.citizen(alice.citizen_id)).efficiency_score == 65
    assert [answer.details["triggering_event"] for answer in answered] == [bad.id]
    printed = out.getvalue()
    assert "missed_deadline" in printed and alice.citizen_id in printed and INTERVENTION in printed


async def test_a_restarted_monitor_catches_up_exactly_once(make_person, as_user, settings, service):
    bob = await make_person()
    tracker = Tracker(await as_user(bob))
    async with Running(settings):
        first = await tracker.record_event(bob.citizen_id, "outage", -30)
        await wait_for_interventions(service, first.id)
    missed = await tracker.record_event(bob.citizen_id, "outage", -40)  # while no monitor runs
    async with Running(settings) as restarted, Running(settings) as another:
        [answer] = await interventions_for(service, missed.id)
        assert restarted.interventions + another.interventions == 1
        live = await tracker.record_event(bob.citizen_id, "outage", -11)
        await wait_for_interventions(service, live.id)
        await asyncio.sleep(0.5)  # both monitors saw it; only one intervention may exist
    for event in (first, missed, live):
        assert len(await interventions_for(service, event.id)) == 1
    assert float(answer["efficiency_delta"]) == 15
    # -11 gets 11 back, not 15: recording bad events never raises a score
    [small] = await interventions_for(service, live.id)
    assert (float(small["efficiency_delta"]), small["recorded_by"]) == (11, "monitor")


async def test_a_monitor_with_a_boost_beyond_the_catalogue_refuses_to_start_whatever_feeds_it(settings):
    """A boost the catalogue does not allow would have every intervention refused by the database:
    the monitor says so at start, on Realtime and on Kafka alike (before joining any group)."""
    from efficiency_hub.errors import InvalidEvent
    from efficiency_hub.kafka_events import KafkaEvents, KafkaSettings

    client = await service_client(settings)
    monitor = Monitor(client, boost=60, console=Console(file=io.StringIO()))
    kafka = KafkaEvents(monitor, KafkaSettings("127.0.0.1:9"))
    try:
        for start in (monitor.start, kafka.start):
            try:
                await start()
            except InvalidEvent as exc:
                assert (exc.code, exc.hint) == ("delta_out_of_range", "allowed: 0 to 25")
            else:
                raise AssertionError(f"{start} started with a boost of 60")
    finally:
        await kafka.close()
        await client.realtime.close()
