"""`localbase start --workers N`: several API processes behind one port, one PostgreSQL.

Driven through the official supabase client and plain HTTP against a real server process."""

from __future__ import annotations

import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from localbase.testing.server import LocalbaseProcess
from tests.localbase.conftest import PROJECT
from tests.localbase.helpers import client_for, sql


def start(data_dir=None, workers: int = 2) -> LocalbaseProcess:
    return LocalbaseProcess(PROJECT, data_dir, extra_args=["--workers", str(workers)]).start()


@pytest.fixture(scope="module")
def two_workers():
    with LocalbaseProcess(PROJECT, extra_args=["--workers", "2"]) as server:
        yield server


def health(server) -> dict:
    return httpx.get(f"{server.url}/health", timeout=10).json()


def pids_by_worker(server, tries: int = 60) -> dict[int, int]:
    """worker index -> pid, from /health answered by whichever worker takes each connection."""
    seen: dict[int, int] = {}
    with ThreadPoolExecutor(8) as pool:
        for body in pool.map(lambda _: health(server), range(tries)):
            seen[body["worker"]["index"]] = body["worker"]["pid"]
    return seen


def test_both_workers_answer_and_share_auth_and_data(two_workers):
    assert set(pids_by_worker(two_workers)) == {0, 1}
    email, password = f"w-{uuid.uuid4().hex[:8]}@example.com", "a-long-password-1"
    client = client_for(two_workers)
    client.auth.sign_up({"email": email, "password": password})
    # a session from one worker is good on the other: same keys, same database
    for _ in range(6):
        session = client_for(two_workers).auth.sign_in_with_password({"email": email, "password": password}).session
        user = client_for(two_workers).auth.get_user(session.access_token).user
        assert user.email == email
    service = client_for(two_workers, two_workers.service_role_key)
    rows = service.table("people").insert({"name": "from a worker"}).execute().data
    assert service.table("people").select("name").eq("id", rows[0]["id"]).execute().data == [{"name": "from a worker"}]


def test_auth_rate_limits_count_across_workers(two_workers):
    """With N workers a client must not get N times the limit: the counters live in PostgreSQL."""
    email = f"rl-{uuid.uuid4().hex[:8]}@example.com"
    statuses = []
    for _ in range(40):
        r = httpx.post(f"{two_workers.url}/auth/v1/token?grant_type=password",
                       headers={"apikey": two_workers.anon_key}, json={"email": email, "password": "wrong-password"})
        statuses.append(r.status_code)
        if r.status_code == 429:
            break
    # 30 sign-ins per email address and window (the default), then 429 - not 30 per worker
    assert statuses == [400] * 30 + [429], statuses


def test_a_killed_worker_is_started_again_and_requests_go_on(two_workers):
    before = pids_by_worker(two_workers)
    os.kill(before[1], signal.SIGKILL)
    failures = 0
    deadline = time.monotonic() + 20
    after: dict[int, int] = {}
    while time.monotonic() < deadline:
        try:
            body = health(two_workers)
        except httpx.HTTPError:
            failures += 1  # a connection the dead worker had accepted but not answered
            continue
        after[body["worker"]["index"]] = body["worker"]["pid"]
        if after.get(1) not in (None, before[1]):
            break
    assert after.get(1) not in (None, before[1]), after
    assert after[0] == before[0]
    assert failures <= 1
    assert "API worker 1" in two_workers.output() and "stopped unexpectedly" in two_workers.output()


def test_a_database_outage_is_seen_by_every_worker(two_workers):
    """The supervising process restarts PostgreSQL; every worker answers 503 meanwhile, then 200."""
    pid = int((two_workers.data_dir / "pgdata" / "postmaster.pid").read_text().splitlines()[0])
    os.kill(pid, signal.SIGKILL)
    statuses = set()
    headers = {"apikey": two_workers.anon_key}
    deadline = time.monotonic() + 30
    recovered = False
    while time.monotonic() < deadline:
        r = httpx.get(f"{two_workers.url}/rest/v1/people?select=id&limit=1", headers=headers, timeout=10)
        statuses.add(r.status_code)
        if r.status_code == 200 and 503 in statuses:
            recovered = all(httpx.get(f"{two_workers.url}/rest/v1/people?select=id&limit=1", headers=headers,
                                      timeout=10).status_code == 200 for _ in range(20))
            if recovered:
                break
        time.sleep(0.02)
    assert recovered and statuses <= {200, 503}, statuses
    assert health(two_workers)["database"] == "ok"


def test_fewer_workers_drop_the_extra_replication_slots(tmp_path):
    data = tmp_path / "data"
    server = start(data, workers=3)
    try:
        slots = {r[0] for r in sql(server, "select slot_name from pg_replication_slots")}
        assert slots == {"localbase_realtime", "localbase_realtime_w1", "localbase_realtime_w2"}, server.output()
    finally:
        assert server.stop() == 0
    server = start(data, workers=2)
    try:
        slots = {r[0] for r in sql(server, "select slot_name from pg_replication_slots")}
        assert slots == {"localbase_realtime", "localbase_realtime_w1"}  # an unread slot would keep WAL forever
    finally:
        assert server.stop() == 0
        server.cleanup()


def test_stop_ends_every_worker(tmp_path):
    server = start(tmp_path / "data")
    pids = pids_by_worker(server)
    assert server.stop() == 0
    for pid in pids.values():
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(")")[1].split()[0] == "Z"
    server.cleanup()
