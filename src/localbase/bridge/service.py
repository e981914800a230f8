"""The Kafka bridge's start-up and shutdown in the gateway's lifespan, its metrics, and the loop
that restarts a failed part.

- The producer (changes -> Kafka) runs in API worker 0 only: one slot, read by one process. With
  several Localbase servers on one database, the one that holds the slot streams; the others retry
  until it is free.
- The consumers run in every worker: Kafka's consumer groups share the partitions among them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from localbase.bridge.config import KafkaConfig
from localbase.gateway import metrics
from localbase.process import tasks, workers

if TYPE_CHECKING:  # imported when a bridge is configured: no Kafka client in a server without one
    from localbase.bridge.producer import ChangeProducer

log = logging.getLogger("localbase.bridge")


@dataclass
class Bridge:
    config: KafkaConfig
    lag: Any  # consumers.Lag
    producer: ChangeProducer | None = None
    consumers: list = field(default_factory=list)
    restarts: int = 0
    _tasks: list[asyncio.Task] = field(default_factory=list)

    def start(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        self._tasks.append(asyncio.create_task(self._guard(name, run), name=f"bridge-{name}"))

    async def _guard(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        backoff = 0.5
        while True:
            try:
                await run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - logged, counted, started again
                self.restarts += 1
                log.warning("bridge: %s stopped (%s: %s); starting it again in %.1fs", name, type(exc).__name__,
                            exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def stop(self) -> None:
        for task in self._tasks:
            await tasks.cancel(task)


def local_api_url(settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{host}:{settings.port}" if ":" not in host else f"http://[{host}]:{settings.port}"


def _collect(w, state) -> None:
    bridge: Bridge | None = getattr(state, "bridge", None)
    if bridge is None:
        return
    if bridge.producer is not None:
        p = bridge.producer
        w.family("localbase_kafka_produced_total", "counter", "Row changes the broker acknowledged (acks=all).")
        w.sample("localbase_kafka_produced_total", p.stats["produced"])
        w.family("localbase_kafka_producer_lag_bytes", "gauge",
                 "WAL between the server's end and what Kafka acknowledged (the bridge slot's confirmed position).")
        w.sample("localbase_kafka_producer_lag_bytes", p.lag_bytes)
        w.family("localbase_kafka_producer_lag_seconds", "gauge", "Age of the oldest commit not yet acknowledged.")
        import time
        w.sample("localbase_kafka_producer_lag_seconds",
                 round(time.time() - p.oldest_unacked, 3) if p.oldest_unacked else 0)
        w.family("localbase_kafka_producer_failures_total", "counter", "Producer sessions ended by a failure.")
        w.sample("localbase_kafka_producer_failures_total", p.stats["sessions_failed"])
    if bridge.lag.by_partition:
        w.family("localbase_kafka_consumer_lag_messages", "gauge", "Messages not yet consumed, per partition.")
        for (group, topic, partition), lag in sorted(bridge.lag.by_partition.items()):
            w.sample("localbase_kafka_consumer_lag_messages", lag, group=group, topic=topic, partition=str(partition))
    outcomes = [("delivered", "delivered"), ("failures", "failed"), ("dead_lettered", "dead_lettered"),
                ("broadcast", "broadcast")]
    w.family("localbase_kafka_consumed_total", "counter", "Kafka messages handled by the bridge, by outcome.")
    for name, label in outcomes:
        total = sum(c.stats[name] for c in bridge.consumers)
        if total:
            w.sample("localbase_kafka_consumed_total", total, outcome=label)


async def startup(app) -> None:
    settings = app.state.settings
    config = app.state.services.kafka
    app.state.bridge = None
    if not config.enabled:
        return
    from localbase.bridge.consumers import FunctionConsumer, Lag, RealtimeConsumer
    from localbase.bridge.producer import ChangeProducer
    from localbase.realtime.service import realtime_dsn, slot_name
    bridge = Bridge(config, Lag())
    worker = workers.current()
    if config.tables and worker.first:
        import asyncpg
        conn = await asyncpg.connect(realtime_dsn(settings))
        try:
            slot = slot_name(config.slot_name, await conn.fetchval("select current_database()"))
        finally:
            await conn.close()
        bridge.producer = ChangeProducer(config, realtime_dsn(settings), slot)
        bridge.start("producer", bridge.producer.run)
    realtime = getattr(app.state, "realtime", None)
    if config.realtime:
        if realtime is None:
            log.warning("bridge: [[kafka.realtime]] is configured but Realtime is disabled; not consuming")
        else:
            groups: dict[str, list] = {}
            for route in config.realtime:
                groups.setdefault(route.group_id, []).append(route)
            for routes in groups.values():
                consumer = RealtimeConsumer(config, routes, realtime, bridge.lag)
                bridge.consumers.append(consumer)
                bridge.start(f"realtime-{consumer.group}", consumer.run)
    for fn_route in config.functions:
        fn = FunctionConsumer(config, fn_route, local_api_url(settings), settings.service_role_key, bridge.lag)
        bridge.consumers.append(fn)
        bridge.start(f"function-{fn_route.function}", fn.run)
    app.state.bridge = bridge
    metrics.add_collector(_collect)
    log.info("bridge: Kafka at %s (%d table route(s), %d realtime, %d function route(s))", config.bootstrap_servers,
             len(config.tables), len(config.realtime), len(config.functions))


async def shutdown(app) -> None:
    bridge: Bridge | None = getattr(app.state, "bridge", None)
    if bridge is not None:
        app.state.bridge = None
        await bridge.stop()
