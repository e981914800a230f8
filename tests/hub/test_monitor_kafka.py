"""The monitor as a Kafka consumer group (`efficiency-hub monitor --source kafka`): efficiency_events
reach the topic efficiency.events through Localbase's bridge, keyed by citizen; two monitors share
its partitions, each bad event gets exactly one intervention, an event that cannot be answered is
passed by, and when one monitor is killed (kill -9) the other takes its partitions over."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import time
import uuid

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from rich.console import Console

from efficiency_hub.admin import Admin
from efficiency_hub.clients import service_client
from efficiency_hub.kafka_events import KafkaEvents, KafkaSettings
from efficiency_hub.models import Clearance
from efficiency_hub.monitor import Monitor
from efficiency_hub.settings import HubSettings
from localbase.testing.kafka import TansuBroker
from localbase.testing.server import LocalbaseProcess
from tests.hub.conftest import PASSWORD, ROOT, new_citizen_id


@pytest.fixture(scope="module")
def kafka_broker():
    """A broker of this module's own: the topic holds only this database's events."""
    broker = TansuBroker().start()
    yield broker
    broker.cleanup()


@pytest.fixture(scope="module")
def kafka_hub(kafka_broker):
    """The hub's own project on a Localbase whose bridge streams to the test broker."""
    with LocalbaseProcess(ROOT, env={"LOCALBASE_KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap}) as server:
        yield server


@pytest.fixture(scope="module")
def hub_settings(kafka_hub) -> HubSettings:
    return HubSettings(kafka_hub.url, kafka_hub.anon_key, kafka_hub.service_role_key)


async def _citizens(service, partitions: int = 3) -> list[str]:
    """Citizens whose keys cover every partition of the topic (as the producer's partitioner
    places them), so that every monitor of the group has events to answer."""
    admin = Admin(service)
    made: list[str] = []
    covered: set[int] = set()
    while len(covered) < partitions or len(made) < partitions * 2:
        citizen_id = new_citizen_id()
        citizen = await admin.create_citizen_account(
            email=f"{citizen_id.lower()}-{uuid.uuid4().hex[:6]}@example.com", password=PASSWORD,
            citizen_id=citizen_id, name="Kafka Citizen", clearance=Clearance.green)
        made.append(str(citizen.id))
        covered.add(DefaultPartitioner()(str(citizen.id).encode(), list(range(partitions)), list(range(partitions))))
    return made


async def _bad_events(service, citizens: list[str]) -> list[int]:
    rows = [{"citizen_id": c, "event_type": "missed_deadline", "efficiency_delta": -20} for c in citizens]
    return [r["id"] for r in (await service.table("efficiency_events").insert(rows).execute()).data]


async def _foreign_events(bootstrap: str, keys: list[str]) -> None:
    """Bad events of citizens this database does not know (another environment's, say), on every
    partition: the monitor cannot answer them and must pass them by, not stall."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        for i, key in enumerate(keys):
            record = {"id": 10_000_000 + i, "citizen_id": str(uuid.uuid4()), "event_type": "missed_deadline",
                      "efficiency_delta": -50, "created_at": "2030-01-01T00:00:00+00:00"}
            value = orjson.dumps({"type": "INSERT", "schema": "public", "table": "efficiency_events",
                                  "record": record, "old_record": {}})
            await producer.send_and_wait("efficiency.events", value=value, key=key.encode())
    finally:
        await producer.stop()


async def _exactly_one_each(service, events: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        rows = (await service.table("efficiency_events").select("triggered_by")
                .in_("triggered_by", events).execute()).data
        answered = [r["triggered_by"] for r in rows]
        if sorted(set(answered)) == sorted(events):
            break
        assert time.monotonic() < deadline, f"{len(set(answered))} of {len(events)} events answered"
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # any second intervention would be on its way by now
    rows = (await service.table("efficiency_events").select("triggered_by").in_("triggered_by", events).execute()).data
    assert sorted(r["triggered_by"] for r in rows) == sorted(events)  # one each, none twice


async def _wait_assignment(events: KafkaEvents, predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate(len(events.assignment())):
        assert time.monotonic() < deadline, f"{what}: assignment {events.assignment()}"
        await asyncio.sleep(0.1)


@pytest.mark.timeout(180)
async def test_two_monitors_share_the_partitions_and_one_takes_over_from_a_dead_one(kafka_hub, hub_settings,
                                                                                     kafka_broker, tmp_path):
    group = f"efficiency-monitor-{uuid.uuid4().hex[:6]}"
    service = await service_client(hub_settings)
    citizens = await _citizens(service)
    env = {**os.environ, "SUPABASE_URL": hub_settings.supabase_url, "SUPABASE_ANON_KEY": hub_settings.anon_key,
           "SUPABASE_SERVICE_ROLE_KEY": hub_settings.service_role_key or "", "NO_COLOR": "1", "COLUMNS": "200"}
    log = (tmp_path / "monitor-a.log").open("wb")
    other = subprocess.Popen([sys.executable, "-m", "efficiency_hub.cli.main", "monitor", "--source", "kafka",
                              "--kafka-bootstrap", kafka_broker.bootstrap, "--group", group],
                             env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    monitor = Monitor(await service_client(hub_settings), console=Console(file=io.StringIO(), width=160))
    events = KafkaEvents(monitor, KafkaSettings(kafka_broker.bootstrap, group_id=group), session_timeout_ms=6000)
    stop = asyncio.Event()
    try:
        await events.start()
        task = asyncio.create_task(events.process(stop))
        await _wait_assignment(events, lambda n: 1 <= n <= 2, 60, "the other monitor never joined the group")
        await _foreign_events(kafka_broker.bootstrap, citizens)  # must not block their partitions
        first = await _bad_events(service, citizens)
        await _exactly_one_each(service, first, timeout=30)
        # the partitions are shared: the other monitor saw some of the events (its log names them; on a
        # loaded machine a rebalance may also hand this one events the other had, so its count alone can
        # reach every event)
        seen_by_other = (tmp_path / "monitor-a.log").read_text(errors="replace")
        assert monitor.handled < 2 * len(first) or any(f"#{i} " in seen_by_other for i in first), seen_by_other
        other.kill()  # kill -9: no goodbye to the group; its partitions come back after the session timeout
        other.wait()
        second = await _bad_events(service, citizens)
        await _exactly_one_each(service, second, timeout=60)
        await _wait_assignment(events, lambda n: n == 3, 10, "the partitions were not handed over")
        stop.set()
        await asyncio.wait_for(task, 10)
    finally:
        stop.set()
        if other.poll() is None:
            other.kill()
        log.close()
        await events.close()
