"""Kafka -> Realtime -> supabase-js: a message produced to a Kafka topic reaches a supabase-js
subscriber of the Realtime channel the Kafka bridge feeds (tests/js/kafka.bridge.mjs)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from pathlib import Path

import orjson
import pytest

from localbase.testing.server import LocalbaseProcess
from tests.js.test_supabase_js import node  # noqa: F401 - the fixture
from tests.localbase.bridge.conftest import produce

HERE = Path(__file__).parent
PROJECT = HERE.parent / "localbase" / "bridge" / "project"


@pytest.fixture(scope="module")
def kafka_js_server(kafka_broker):
    with LocalbaseProcess(PROJECT, env={"LOCALBASE_KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap}) as server:
        yield server


async def test_a_kafka_message_reaches_a_supabase_js_subscriber(node, kafka_js_server, kafka_broker):  # noqa: F811
    marker = uuid.uuid4().hex
    env = {**os.environ, "SUPABASE_URL": kafka_js_server.url, "SUPABASE_ANON_KEY": kafka_js_server.anon_key,
           "SUPABASE_SERVICE_ROLE_KEY": kafka_js_server.service_role_key, "MARKER": marker, "NO_COLOR": "1"}
    proc = await asyncio.create_subprocess_exec(node, str(HERE / "kafka.bridge.mjs"), cwd=HERE, env=env,
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line.decode().strip() == "SUBSCRIBED", line
        # the bridge's consumer group reads from the latest offset once it has joined: send until seen
        while proc.returncode is None:
            await produce(kafka_broker.bootstrap, "bridge.alerts", [orjson.dumps({"marker": marker, "level": 3})])
            try:
                await asyncio.wait_for(proc.wait(), 0.5)
            except TimeoutError:
                continue
        out, err = await proc.communicate()
        assert proc.returncode == 0, (out.decode(), err.decode(), kafka_js_server.output())
        got = json.loads(out.decode().strip().removeprefix("GOT "))
        assert got["event"] == "alert" and got["payload"] == {"marker": marker, "level": 3}
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
