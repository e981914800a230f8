"""/health and /metrics on a real server: no key for /health, the service_role key for /metrics,
counts that follow the requests made, and a database that stops answering turning /health 503."""

from __future__ import annotations

import json
import os
import re
import signal
import time

import httpx
import pytest

from tests.localbase.helpers import sql


def scrape(server, **headers) -> httpx.Response:
    return httpx.get(f"{server.url}/metrics", headers=headers or
                     {"Authorization": f"Bearer {server.service_role_key}"})


def samples(text: str) -> dict[str, float]:
    """`name{labels}` -> value, for every sample line of the exposition."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            found[key] = float(value)
    return found


def requests_total(server, service: str, status: str) -> float:
    return samples(scrape(server).text).get(
        f'localbase_http_requests_total{{service="{service}",status="{status}"}}', 0)


def test_health_needs_no_key_and_reports_version_and_uptime(localbase_server):
    r = httpx.get(f"{localbase_server.url}/health")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert re.fullmatch(r"\d+\.\d+.*", body["version"])
    assert body["uptime"] > 0
    assert r.headers["cache-control"] == "no-store"
    assert httpx.head(f"{localbase_server.url}/health").status_code == 200


@pytest.mark.parametrize("headers", [
    {},
    {"apikey": "anon"},   # replaced by the real anon key below
    {"Authorization": "Bearer not-a-key"},
])
def test_metrics_refuses_all_but_the_service_role_key(localbase_server, headers):
    if headers.get("apikey") == "anon":
        headers = {"apikey": localbase_server.anon_key, "Authorization": f"Bearer {localbase_server.anon_key}"}
    r = httpx.get(f"{localbase_server.url}/metrics", headers=headers)
    assert r.status_code == 401
    assert "service_role" in r.json()["message"]


def test_metrics_with_service_role_key_as_apikey_or_bearer(localbase_server):
    for headers in ({"apikey": localbase_server.service_role_key},
                    {"Authorization": f"Bearer {localbase_server.service_role_key}"}):
        r = httpx.get(f"{localbase_server.url}/metrics", headers=headers)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert 'localbase_info{version="' in r.text


def test_request_counts_follow_requests_by_service_and_status(localbase_server):
    s = localbase_server
    anon = {"apikey": s.anon_key}
    before = {(svc, st): requests_total(s, svc, st)
              for svc, st in (("rest", "2xx"), ("rest", "4xx"), ("auth", "2xx"), ("functions", "2xx"))}
    for _ in range(5):
        assert httpx.get(f"{s.url}/rest/v1/countries?select=id", headers=anon).status_code == 200
    for _ in range(3):
        assert httpx.get(f"{s.url}/rest/v1/no_such_table", headers=anon).status_code == 404
    assert httpx.get(f"{s.url}/rest/v1/countries").status_code == 401  # no key: still counted
    assert httpx.get(f"{s.url}/auth/v1/settings", headers=anon).status_code == 200
    assert httpx.post(f"{s.url}/functions/v1/public-ping", json={}).status_code == 200
    assert requests_total(s, "rest", "2xx") - before[("rest", "2xx")] == 5
    assert requests_total(s, "rest", "4xx") - before[("rest", "4xx")] == 4
    assert requests_total(s, "auth", "2xx") - before[("auth", "2xx")] == 1
    assert requests_total(s, "functions", "2xx") - before[("functions", "2xx")] == 1


def test_latency_histogram_is_consistent(localbase_server):
    s = localbase_server
    httpx.get(f"{s.url}/rest/v1/countries", headers={"apikey": s.anon_key}).raise_for_status()
    values = samples(scrape(s).text)
    series = '{service="rest",status="2xx"'
    buckets = [(k, v) for k, v in values.items()
               if k.startswith("localbase_http_request_duration_seconds_bucket" + series)]
    assert len(buckets) == 14  # 13 bounds and +Inf
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), "buckets are cumulative"
    assert buckets[-1][0].endswith('le="+Inf"}')
    total = values["localbase_http_request_duration_seconds_count" + series + "}"]
    assert counts[-1] == total == values['localbase_http_requests_total' + series + "}"]
    assert 0 < values["localbase_http_request_duration_seconds_sum" + series + "}"] < total * 10


def test_gauges_for_pools_realtime_and_memory(localbase_server):
    from websockets.sync.client import connect

    s = localbase_server
    url = f"ws://127.0.0.1:{s.port}/realtime/v1/websocket?apikey={s.anon_key}&vsn=1.0.0"
    with connect(url) as ws:
        ws.send(json.dumps({"topic": "realtime:metrics-test", "event": "phx_join", "ref": "1", "join_ref": "1",
                            "payload": {"config": {"broadcast": {"self": False}, "presence": {"key": ""},
                                                   "postgres_changes": []}, "access_token": s.anon_key}}))
        reply = json.loads(ws.recv(timeout=5))
        assert reply["event"] == "phx_reply" and reply["payload"]["status"] == "ok", reply
        values = samples(scrape(s).text)
        assert values["localbase_realtime_connections"] >= 1
        assert values["localbase_realtime_channels"] >= 1
        assert values['localbase_websocket_sessions_total{service="realtime"}'] >= 1
    assert values['localbase_db_pool_max_connections{pool="rest"}'] == 20
    assert values['localbase_db_pool_connections{pool="rest",state="idle"}'] >= 1
    assert 'localbase_db_pool_connections{pool="rest",state="in_use"}' in values
    assert 'localbase_db_pool_connections{pool="auth",state="in_use"}' in values
    assert values["process_resident_memory_bytes"] > 10 * 1024 * 1024
    assert values["localbase_uptime_seconds"] > 0


def test_health_is_503_while_the_database_does_not_answer(localbase_server):
    """The probe's backend is frozen (SIGSTOP): `select 1` gets no answer, /health says 503 after
    about a second; once it answers again (a new connection), 200."""
    s = localbase_server
    assert httpx.get(f"{s.url}/health").status_code == 200  # the probe's connection is open
    rows = sql(s, "select pid from pg_stat_activity where application_name = 'localbase-health'")
    assert len(rows) == 1
    pid = rows[0]["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        r = httpx.get(f"{s.url}/health", timeout=10)
        took = time.monotonic() - started
        assert r.status_code == 503, r.text
        assert r.json()["status"] == "unavailable" and r.json()["database"] == "unavailable"
        assert "within 1s" in r.json()["detail"]["database"]
        assert 0.9 <= took < 3
        # the rest of the API is not affected by the probe's frozen connection
        assert httpx.get(f"{s.url}/rest/v1/countries", headers={"apikey": s.anon_key}).status_code == 200
    finally:
        os.kill(pid, signal.SIGCONT)
    assert httpx.get(f"{s.url}/health").json()["status"] == "ok"
