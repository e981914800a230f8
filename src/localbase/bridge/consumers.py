"""Kafka -> Realtime and Kafka -> Functions: consumer groups shared by the API workers (and by
every Localbase on the same brokers), so each message is handled by one of them.

- To Realtime: each message is broadcast on its route's channel (public, or private: the
  realtime.messages RLS policies decided at join who is on it), as {type: broadcast, event,
  payload}; payload = the message's JSON value (a value that is not a JSON object arrives as
  {"value": text}). Through the bus, a worker's broadcast reaches every worker's sockets. At most
  once, like any broadcast: offsets are committed automatically.
- To Functions: each message is POSTed to /functions/v1/<function> of this server as the service
  role, the value as the body (Content-Type application/json when it parses as JSON), headers
  x-kafka-topic / -partition / -offset / -key. Offsets are committed only after a 2xx answer; a
  failure (any other status, no answer within timeout_seconds, a refused connection) is retried
  with a doubling backoff, and after max_attempts the message goes to the dead-letter topic with
  headers error, attempts and source.topic / .partition / .offset - and only then is the offset
  committed. Messages of one partition are handled one at a time, in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, RebalanceInProgressError

from localbase.bridge import kafka
from localbase.bridge.config import FunctionRoute, KafkaConfig, RealtimeRoute

log = logging.getLogger("localbase.bridge")
BACKOFF_MAX = 30.0


class Lag:
    """Per partition: the broker's high-water mark minus the next offset this consumer will read."""

    def __init__(self) -> None:
        self.by_partition: dict[tuple[str, str, int], int] = {}

    def update(self, group: str, consumer: AIOKafkaConsumer, tp: TopicPartition, next_offset: int) -> None:
        high = consumer.highwater(tp)
        if high is not None:
            self.by_partition[(group, tp.topic, tp.partition)] = max(0, high - next_offset)


def broadcast_payload(value: bytes | None) -> dict[str, Any]:
    if value is None:
        return {}
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError:
        return {"value": value.decode("utf-8", "replace")}
    return decoded if isinstance(decoded, dict) else {"value": decoded}


class RealtimeConsumer:
    def __init__(self, config: KafkaConfig, routes: list[RealtimeRoute], service, lag: Lag):
        self.config = config
        self.routes = {r.topic: r for r in routes}
        self.group = routes[0].group_id
        self.service = service  # localbase.realtime.service.Realtime
        self.lag = lag
        self.stats: Counter[str] = Counter()

    async def run(self) -> None:
        from localbase.realtime import broadcast
        from localbase.realtime import private as private_channels
        consumer = AIOKafkaConsumer(*self.routes, **self.config.client_options(), group_id=self.group,
                                    auto_offset_reset="latest", enable_auto_commit=True)
        await consumer.start()
        try:
            async for msg in consumer:
                route = self.routes[msg.topic]
                broadcast.send(self.service, private_channels.route("realtime:" + route.channel, route.private),
                               {"type": "broadcast", "event": route.event, "payload": broadcast_payload(msg.value)})
                self.stats["broadcast"] += 1
                self.lag.update(self.group, consumer, TopicPartition(msg.topic, msg.partition), msg.offset + 1)
        finally:
            await consumer.stop()


class FunctionConsumer:
    def __init__(self, config: KafkaConfig, route: FunctionRoute, api_url: str, service_key: str, lag: Lag):
        self.config = config
        self.route = route
        self.url = f"{api_url}/functions/v1/{route.function}"
        self.auth = {"Authorization": f"Bearer {service_key}", "apikey": service_key}
        self.lag = lag
        self.stats: Counter[str] = Counter()

    async def run(self) -> None:
        route = self.route
        await kafka.ensure_topics(self.config, {route.topic, route.dead_letter_topic})
        consumer = AIOKafkaConsumer(route.topic, **self.config.client_options(), group_id=route.group_id,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        dead_letters = kafka.producer(self.config)
        await consumer.start()
        await dead_letters.start()
        try:
            async with httpx.AsyncClient(timeout=route.timeout_seconds, trust_env=False) as client:
                while True:
                    batches = await consumer.getmany(timeout_ms=1000, max_records=100)
                    for tp, messages in batches.items():
                        for msg in messages:
                            await self._handle(client, dead_letters, msg)
                            try:
                                await consumer.commit({tp: msg.offset + 1})
                            except (CommitFailedError, IllegalStateError, RebalanceInProgressError) as exc:
                                # the partition went to another worker, which handles this message again
                                log.info("bridge: offset of %s not committed (%s); the group rebalanced", tp, exc)
                                break
                            self.lag.update(route.group_id, consumer, tp, msg.offset + 1)
        finally:
            await consumer.stop()
            await dead_letters.stop()

    async def _handle(self, client: httpx.AsyncClient, dead_letters, msg: ConsumerRecord) -> None:
        route = self.route
        headers = {**self.auth, "x-kafka-topic": msg.topic, "x-kafka-partition": str(msg.partition),
                   "x-kafka-offset": str(msg.offset), "content-type": _content_type(msg.value)}
        if msg.key is not None:
            headers["x-kafka-key"] = msg.key.decode("utf-8", "replace")
        error = ""
        for attempt in range(1, route.max_attempts + 1):
            try:
                response = await client.post(self.url, content=msg.value or b"", headers=headers)
                if 200 <= response.status_code < 300:
                    self.stats["delivered"] += 1
                    return
                error = f"HTTP {response.status_code}: {response.text[:500]}"
            except httpx.TimeoutException:
                error = f"timed out after {route.timeout_seconds:g}s"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            self.stats["failures"] += 1
            log.warning("bridge: function %s failed on %s[%d]@%d (attempt %d of %d): %s", route.function,
                        msg.topic, msg.partition, msg.offset, attempt, route.max_attempts, error)
            if attempt < route.max_attempts:
                await asyncio.sleep(min(route.backoff_seconds * 2 ** (attempt - 1), BACKOFF_MAX))
        dead_headers = [*(msg.headers or ()), ("error", error.encode()), ("attempts", str(route.max_attempts).encode()),
                        ("source.topic", msg.topic.encode()), ("source.partition", str(msg.partition).encode()),
                        ("source.offset", str(msg.offset).encode()), ("function", route.function.encode())]
        await dead_letters.send_and_wait(route.dead_letter_topic, value=msg.value, key=msg.key, headers=dead_headers)
        self.stats["dead_lettered"] += 1
        log.error("bridge: %s[%d]@%d went to %s after %d attempts: %s", msg.topic, msg.partition, msg.offset,
                  route.dead_letter_topic, route.max_attempts, error)


def _content_type(value: bytes | None) -> str:
    try:
        orjson.loads(value or b"")
        return "application/json"
    except orjson.JSONDecodeError:
        return "application/octet-stream"
