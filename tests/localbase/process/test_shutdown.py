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


def running_sleeps(server) -> int:
    """How many sessions are in pg_sleep now (asked of PostgreSQL directly, not through the server)."""
    import asyncio

    import asyncpg

    async def count() -> int:
        db = await asyncpg.connect(server.db_url)
        try:
            return await db.fetchval("select count(*) from pg_stat_activity where wait_event = 'PgSleep' "
                                     "and state = 'active' and pid <> pg_backend_pid()")
        finally:
            await db.close()

    return asyncio.run(count())


def wait_for(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.05)


def refused(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.TransportError:
        return True
    return False


def test_sigterm_lets_in_flight_requests_finish_then_exits_0(slow_server):
    s = slow_server
    headers = {"apikey": s.anon_key}

    def call(tag: str) -> httpx.Response:  # 2.5 s: below anon's statement_timeout (3 s, as Supabase)
        return httpx.post(f"{s.url}/rest/v1/rpc/slow", json={"seconds": 2.5, "tag": tag}, headers=headers,
                          timeout=30)

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(call, f"r{i}") for i in range(4)]
        wait_for(lambda: running_sleeps(s) == 4, 15, "the four requests run their pg_sleep")
        stopping = time.monotonic()
        s.process.send_signal(signal.SIGTERM)
        # no new connection is accepted while stopping (the four are still sleeping)
        wait_for(lambda: refused(f"{s.url}/health"), 3, "the listener closes")
        assert not any(f.done() for f in futures)
        answers = [f.result() for f in futures]
    assert [r.status_code for r in answers] == [200] * 4, [r.text for r in answers]
    assert [r.json() for r in answers] == [f"r{i}" for i in range(4)]
    code = s.process.wait(30)
    assert code == 0
    assert time.monotonic() - stopping < 15
    events = [json.loads(line).get("event") for line in s.log_path.read_text().splitlines() if line.strip()]
    assert events[-1] == "stopped"
