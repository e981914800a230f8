"""The monitor's events from Kafka: the topic Localbase's bridge (or any change-data pipeline)
fills with committed `efficiency_events` changes - the JSON Realtime delivers, keyed by citizen -
read as a consumer group, so any number of monitors share the partitions.

Decisions stay the monitor's own (Monitor.handle); this only feeds it. An event the backend cannot
answer for good (invalid, or its citizen unknown here) is logged and passed; any other failure is
retried with backoff, so a backend outage skips nothing. An offset is committed after
its event was handled, so a monitor that dies leaves its unfinished events to the one that takes
its partitions over; the intervention's unique `triggered_by` keeps that to one intervention per
bad event. A change seen twice (the bridge resends after a failure, with the same LSN) meets the
same guard.

Connection settings: KAFKA_BOOTSTRAP_SERVERS, and for a secured cluster KAFKA_SECURITY_PROTOCOL
(SSL, SASL_PLAINTEXT, SASL_SSL), KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD,
KAFKA_SSL_CAFILE.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, RebalanceInProgressError
from pydantic import ValidationError

from efficiency_hub.errors import InvalidInput, NotFound
from efficiency_hub.monitor import Monitor

log = logging.getLogger("efficiency_hub.monitor")
TOPIC = "efficiency.events"
GROUP = "efficiency-monitor"


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str
    topic: str = TOPIC
    group_id: str = GROUP
    options: dict[str, Any] = field(default_factory=dict)  # aiokafka's security options

    @classmethod
    def from_env(cls, bootstrap: str | None = None, topic: str = TOPIC, group_id: str = GROUP,
                 env: Mapping[str, str] | None = None) -> KafkaSettings:
        env = os.environ if env is None else env
        servers = bootstrap or env.get("KAFKA_BOOTSTRAP_SERVERS", "")
        if not servers:
            raise ValueError("no Kafka brokers: pass --kafka-bootstrap or set KAFKA_BOOTSTRAP_SERVERS")
        protocol = env.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper()
        options: dict[str, Any] = {"security_protocol": protocol}
        if protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context
            options["ssl_context"] = create_ssl_context(cafile=env.get("KAFKA_SSL_CAFILE"))
        if protocol.startswith("SASL"):
            options.update(sasl_mechanism=env.get("KAFKA_SASL_MECHANISM", "PLAIN"),
                           sasl_plain_username=env.get("KAFKA_SASL_USERNAME"),
                           sasl_plain_password=env.get("KAFKA_SASL_PASSWORD"))
        return cls(servers, topic, group_id, options)


class KafkaEvents:
    def __init__(self, monitor: Monitor, settings: KafkaSettings, *, session_timeout_ms: int = 10_000):
        self.monitor = monitor
        self.settings = settings
        self.consumer = AIOKafkaConsumer(
            settings.topic, bootstrap_servers=settings.bootstrap_servers, group_id=settings.group_id,
            enable_auto_commit=False, auto_offset_reset="earliest", session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=max(500, session_timeout_ms // 5), metadata_max_age_ms=5_000,
            **settings.options)

    async def start(self) -> None:
        """Checks the monitor's boost against the event catalogue, joins the group and catches up
        on bad events without an intervention."""
        await self.monitor.check_catalogue()
        await self.consumer.start()
        await self.monitor.catch_up()
        self.monitor.ready.set()

    def assignment(self) -> set[TopicPartition]:
        return set(self.consumer.assignment())

    async def process(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        while not stop.is_set():
            batches = await self.consumer.getmany(timeout_ms=300, max_records=200)
            for tp, messages in batches.items():
                for message in messages:
                    await self._handle(message.value, stop)
                    try:
                        await self.consumer.commit({tp: message.offset + 1})
                    except (CommitFailedError, IllegalStateError, RebalanceInProgressError) as exc:
                        # the partition moved to another monitor meanwhile: it reads this event again,
                        # and the unique triggered_by refuses a second intervention
                        log.info("monitor: offset of %s not committed (%s); the group rebalanced", tp, exc)
                        break

    async def _handle(self, value: bytes | None, stop: asyncio.Event) -> None:
        change = orjson.loads(value) if value else {}
        if change.get("type") != "INSERT" or change.get("table") != "efficiency_events":
            return
        delay = 0.5
        while True:
            try:
                await self.monitor.handle(change["record"])
                return
            except (InvalidInput, NotFound, ValidationError) as exc:
                # the event itself cannot be answered (e.g. its citizen is not in this database): retrying
                # would block its partition for good, so it is reported and passed
                log.error("monitor: event %s cannot be answered, skipped: %s", change["record"].get("id"), exc)
                return
            except Exception as exc:  # the backend is unreachable or failing: the same event again, never skipped
                log.warning("monitor: could not handle event %s (%s); retrying in %.1fs",
                            change["record"].get("id"), exc, delay)
                if stop.is_set():
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def close(self) -> None:
        await self.consumer.stop()  # leaves the group: its partitions go to the others at once
