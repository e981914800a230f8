"""Kafka -> Functions (offsets committed after a 2xx, retries, then the dead-letter topic; a timeout
is a failure) and Kafka -> Realtime broadcast (public and private channels), through the official
async supabase client."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from supabase import AsyncClientOptions, acreate_client
from tests.localbase.bridge.conftest import produce, read_topic
from tests.localbase.helpers import user_token


def _calls(log, run: str) -> list[dict]:
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [c for c in lines if c["body"].get("run") == run]


async def _wait_calls(log, run: str, n: int, timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while len(calls := _calls(log, run)) < n:
        assert time.monotonic() < deadline, f"{len(calls)} of {n} calls: {calls}"
        await asyncio.sleep(0.1)
    return calls


async def test_a_failing_function_is_retried_then_dead_lettered_and_the_offset_committed(
        bridge_server, kafka_broker, function_log):
    run = uuid.uuid4().hex[:8]
    key = f"job-{run}".encode()  # one key: one partition, handled in order
    values = [{"run": run, "n": 1}, {"run": run, "n": 2, "fail": True}, {"run": run, "n": 3, "sleep": 5},
              {"run": run, "n": 4}]
    await produce(kafka_broker.bootstrap, "bridge.jobs", [orjson.dumps(v) for v in values], key=key)
    calls = await _wait_calls(function_log, run, 8, timeout=60)
    assert [c["body"]["n"] for c in calls] == [1, 2, 2, 2, 3, 3, 3, 4]  # max_attempts = 3, in order
    assert {c["key"] for c in calls} == {key.decode()} and {c["topic"] for c in calls} == {"bridge.jobs"}
    dead = await read_topic(kafka_broker.bootstrap, "bridge.jobs.dead-letter",
                            lambda ms: sum(m.key == key for m in ms) >= 2)
    dead = [m for m in dead if m.key == key]
    assert [m.json()["n"] for m in dead] == [2, 3]
    assert dead[0].headers["error"].startswith("HTTP 500") and "asked to fail" in dead[0].headers["error"]
    assert dead[1].headers["error"] == "timed out after 1.5s"  # a timeout counts as a failure
    assert dead[0].headers["attempts"] == "3" and dead[0].headers["source.topic"] == "bridge.jobs"
    assert dead[0].headers["function"] == "flaky"
    # every message is answered or dead-lettered: the group's offset is past the last one
    last = int(calls[-1]["offset"])
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_broker.bootstrap, group_id="localbase-function-flaky",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        deadline = time.monotonic() + 10
        while True:
            committed = [await consumer.committed(TopicPartition("bridge.jobs", p)) for p in range(3)]
            if last + 1 in committed:
                break
            assert time.monotonic() < deadline, f"committed offsets {committed}, last handled {last}"
            await asyncio.sleep(0.2)
    finally:
        await consumer.stop()


async def _subscribe(server, token: str, channel: str, private: bool):
    client = await acreate_client(server.url, server.anon_key,
                                  options=AsyncClientOptions(auto_refresh_token=False, persist_session=False))
    await client.realtime.set_auth(token)
    got: list[dict] = []
    status: asyncio.Future = asyncio.get_running_loop().create_future()
    ch = client.channel(channel, {"config": {"private": private}})
    ch.on_broadcast("alert", lambda payload: got.append(payload))

    def on_status(state, error=None) -> None:
        name = getattr(state, "value", str(state))
        if not status.done() and name in ("SUBSCRIBED", "CHANNEL_ERROR", "TIMED_OUT"):
            status.set_result((name, error))

    await ch.subscribe(on_status)
    result = await asyncio.wait_for(status, 10)
    return client, got, result


async def _wait(got: list, n: int, timeout: float = 15.0) -> list:
    deadline = time.monotonic() + timeout
    while len(got) < n:
        assert time.monotonic() < deadline, f"got {got}"
        await asyncio.sleep(0.05)
    return got


async def test_a_topic_is_broadcast_on_a_public_channel(bridge_server, kafka_broker):
    client, got, (status, _) = await _subscribe(bridge_server, bridge_server.anon_key, "alerts", private=False)
    try:
        assert status == "SUBSCRIBED"
        marker = uuid.uuid4().hex
        await asyncio.sleep(1.0)  # the consumer group starts at the latest offset: let it join first
        for _ in range(20):  # until the bridge's consumer has its partitions (then at most once, as broadcast)
            await produce(kafka_broker.bootstrap, "bridge.alerts", [orjson.dumps({"level": "high", "id": marker})])
            try:
                await _wait(got, 1, timeout=1.5)
                break
            except AssertionError:
                continue
        assert got and got[0]["payload"]["id"] == marker and got[0]["event"] == "alert"
        await produce(kafka_broker.bootstrap, "bridge.alerts", [b"plain text"])
        await _wait(got, 2)
        assert got[-1]["payload"] == {"value": "plain text"}
    finally:
        await client.realtime.close()


async def test_a_private_channel_lets_in_only_whom_realtime_messages_policies_allow(bridge_server, kafka_broker):
    anon, _, (anon_status, _) = await _subscribe(bridge_server, bridge_server.anon_key, "vip", private=True)
    await anon.realtime.close()
    assert anon_status == "CHANNEL_ERROR"  # no SELECT policy for anon on realtime.messages
    token = user_token(bridge_server, str(uuid.uuid4()))
    client, got, (status, _) = await _subscribe(bridge_server, token, "vip", private=True)
    try:
        assert status == "SUBSCRIBED"
        marker = uuid.uuid4().hex
        for _ in range(20):
            await produce(kafka_broker.bootstrap, "bridge.vip", [orjson.dumps({"id": marker})])
            try:
                await _wait(got, 1, timeout=1.5)
                break
            except AssertionError:
                continue
        assert got and got[0]["payload"] == {"id": marker}
    finally:
        await client.realtime.close()
