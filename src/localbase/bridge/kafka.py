"""What the bridge's parts share about Kafka: creating topics, and the producer's settings."""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from localbase.bridge.config import KafkaConfig

log = logging.getLogger("localbase.bridge")
TOPIC_EXISTS = 36  # Kafka's TOPIC_ALREADY_EXISTS error code


def producer(config: KafkaConfig, **extra) -> AIOKafkaProducer:
    """acks=all: a message counts as sent once every in-sync replica has it. Not idempotent (brokers
    such as Tansu do not offer it): order holds because aiokafka keeps one request in flight per
    partition, and a failure restarts the stream from the last acknowledged commit (duplicates carry
    the same LSN, see producer.py)."""
    return AIOKafkaProducer(**config.client_options(), acks="all", enable_idempotence=False,
                            request_timeout_ms=10_000, retry_backoff_ms=200, **extra)


def abort(producer: AIOKafkaProducer) -> None:
    """Stop sending at once: nothing queued behind a failed message may reach the broker (that
    would put it before the failed one, which is sent again). aiokafka has no public way to drop its
    queue; cancelling its sender task does it (stop() then closes the connections without a flush)."""
    sender = getattr(producer, "_sender", None)
    task = getattr(sender, "sender_task", None)
    if task is not None and not task.done():
        task.cancel()


def abort_on_failure(producer: AIOKafkaProducer, future, on_failure=None) -> None:
    """Abort the producer in the very callback that reports a failed send: before its sender task
    runs again and sends the next batch of that partition. `on_failure(exception)` is told too."""
    def check(done) -> None:
        if not done.cancelled() and done.exception() is not None:
            abort(producer)
            if on_failure is not None:
                on_failure(done.exception())
    future.add_done_callback(check)


async def ensure_topics(config: KafkaConfig, topics: set[str]) -> None:
    """Create the topics that do not exist yet (brokers often refuse to create them on first use)."""
    if not topics:
        return
    admin = AIOKafkaAdminClient(**config.client_options(), request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = sorted(topics - existing)
        if not missing:
            return
        response = await admin.create_topics(
            [NewTopic(t, config.topic_partitions, config.topic_replication_factor) for t in missing])
        for topic, code, message in ((e[0], e[1], e[2] if len(e) > 2 else None) for e in response.topic_errors):
            if code not in (0, TOPIC_EXISTS):
                raise RuntimeError(f"cannot create Kafka topic {topic}: error {code} {message or ''}".strip())
        log.info("bridge: created Kafka topic(s) %s", ", ".join(missing))
    finally:
        await admin.close()
