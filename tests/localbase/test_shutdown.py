"""Graceful shutdown: on SIGTERM the server stops accepting connections, lets the requests in
flight finish (each answered in full), stops PostgreSQL in order and exits 0."""

from __future__ import annotations

import json
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from localbase.testing.server import LocalbaseProcess

SLOW = """
create function public.slow(seconds float, tag text) returns text language sql as $$
  select pg_sleep(seconds)::text || tag
$$;
grant execute on function public.slow(float, text) to anon;
"""


@pytest.fixture
def slow_server():
    with tempfile.TemporaryDirectory(prefix="lb-shutdown-") as folder:
        project = Path(folder)
        (project / "supabase" / "migrations").mkdir(parents=True)
        (project / "supabase" / "migrations" / "20250101000000_slow.sql").write_text(SLOW)
        server = LocalbaseProcess(project, extra_args=["--log-format", "json"])
        server.start()
        try:
            yield server
        finally:
            server.cleanup()


def test_sigterm_lets_in_flight_requests_finish_then_exits_0(slow_server):
    s = slow_server
    headers = {"apikey": s.anon_key}

    def call(tag: str) -> httpx.Response:
        return httpx.post(f"{s.url}/rest/v1/rpc/slow", json={"seconds": 1.5, "tag": tag}, headers=headers,
                          timeout=30)

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(call, f"r{i}") for i in range(4)]
        time.sleep(0.5)  # the four requests are running their pg_sleep
        stopping = time.monotonic()
        s.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with pytest.raises(httpx.TransportError):  # no new connection is accepted while stopping
            httpx.get(f"{s.url}/health", timeout=2)
        answers = [f.result() for f in futures]
    assert [r.status_code for r in answers] == [200] * 4, [r.text for r in answers]
    assert [r.json() for r in answers] == [f"r{i}" for i in range(4)]
    code = s.process.wait(30)
    assert code == 0
    assert time.monotonic() - stopping < 10
    events = [json.loads(line).get("event") for line in s.log_path.read_text().splitlines() if line.strip()]
    assert events[-1] == "stopped"
