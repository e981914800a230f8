"""The bridge seen from outside: Prometheus metrics and the `localbase doctor` check."""

from __future__ import annotations

import time
import uuid

import httpx

from localbase.doctor import load_doctor_settings, run_checks_async
from tests.localbase.bridge.conftest import PROJECT, read_topic
from tests.localbase.helpers import sql


def _metrics(server) -> str:
    return httpx.get(f"{server.url}/metrics", headers={"apikey": server.service_role_key}, timeout=5).text


async def test_metrics_show_what_was_produced_and_the_lag(bridge_server, kafka_broker):
    account = f"m-{uuid.uuid4().hex[:6]}"
    sql(bridge_server, "insert into ledger (account, n) values ($1, 1)", account)
    await read_topic(kafka_broker.bootstrap, "bridge.ledger", lambda ms: any(m.key == account.encode() for m in ms))
    deadline = time.monotonic() + 10
    while True:
        text = _metrics(bridge_server)
        produced = [float(line.split()[-1]) for line in text.splitlines()
                    if line.startswith("localbase_kafka_produced_total ")]
        if produced and produced[0] >= 1:
            break
        assert time.monotonic() < deadline, text
        time.sleep(0.2)
    assert "localbase_kafka_producer_lag_bytes " in text and "localbase_kafka_producer_lag_seconds " in text


async def test_doctor_reports_the_slot_and_its_lag(bridge_server, kafka_broker, monkeypatch):
    monkeypatch.setenv("LOCALBASE_KAFKA_BOOTSTRAP_SERVERS", kafka_broker.bootstrap)
    settings = load_doctor_settings(PROJECT, data_dir=bridge_server.data_dir)
    [kafka] = [c for c in await run_checks_async(settings, dsn=bridge_server.db_url) if c.name == "kafka"]
    assert kafka.ok and kafka.status == "pass", kafka
    assert "localbase_kafka" in kafka.detail and "behind" in kafka.detail


async def test_doctor_warns_of_a_slot_no_bridge_reads(bridge_server, monkeypatch):
    monkeypatch.delenv("LOCALBASE_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    settings = load_doctor_settings(PROJECT, data_dir=bridge_server.data_dir)
    [kafka] = [c for c in await run_checks_async(settings, dsn=bridge_server.db_url) if c.name == "kafka"]
    assert kafka.status == "warn" and "pg_drop_replication_slot" in kafka.detail
