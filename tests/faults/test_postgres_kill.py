"""kill -9 of the embedded PostgreSQL's postmaster while Localbase serves: requests answer 503 in
PostgREST's shape at once (no hang), Localbase restarts PostgreSQL by itself (crash recovery), and
requests succeed again within seconds; no request's rows are half written."""

from __future__ import annotations

import functools
import os
import signal
import time

import httpx
import pytest

from tests.faults.background import Background
from tests.faults.conftest import new_user, postmaster_pid, rest_headers
from tests.localbase.helpers import sql

ROWS = 10


class Traffic(Background):
    """Writers and readers through /rest/v1, recording (time, status, seconds, body) per request."""

    def __init__(self, server, token: str, writers: int = 3, readers: int = 2):
        self.server = server
        self.headers = {**rest_headers(server, token), "Prefer": "return=minimal"}
        self.log: list[tuple[float, str, int, float, bytes]] = []
        self.acked: set[int] = set()
        super().__init__([functools.partial(self._run, w, w < writers) for w in range(writers + readers)])

    def _run(self, worker: int, write: bool) -> None:
        with httpx.Client(base_url=self.server.url, headers=self.headers, timeout=30) as client:
            i = 0
            while not self.stop.is_set():
                batch = worker * 1_000_000 + i
                i += 1
                began = time.monotonic()
                if write:
                    r = client.post("/rest/v1/items", json=[{"batch": batch, "n": k} for k in range(ROWS)])
                else:
                    r = client.get("/rest/v1/items?select=batch,n&order=id.desc&limit=20")
                took = time.monotonic() - began
                self.log.append((began, "write" if write else "read", r.status_code, took, r.content))
                if write and r.status_code == 201:
                    self.acked.add(batch)
                if r.status_code != 201 and r.status_code != 200:
                    time.sleep(0.02)

    def ok_since(self, t: float) -> int:
        return sum(1 for began, _, status, _, _ in self.log if began >= t and status in (200, 201))


@pytest.mark.slow
def test_postmaster_kill_9_answers_503_then_recovers_by_itself(server):
    _, token = new_user(server)
    api_pid = server.process.pid
    with Traffic(server, token) as traffic:
        time.sleep(1.0)
        old = postmaster_pid(server)
        killed_at = time.monotonic()
        os.kill(old, signal.SIGKILL)
        deadline = killed_at + 20
        while traffic.ok_since(killed_at + 0.5) < 20 or postmaster_pid(server) == old:
            assert time.monotonic() < deadline, _summary(traffic.log, killed_at, server)
            time.sleep(0.05)
        recovered_at = time.monotonic()
        time.sleep(0.5)
    assert server.process is not None and server.process.pid == api_pid  # the same server, not restarted

    after = [entry for entry in traffic.log if entry[0] >= killed_at - 1]
    statuses = {status for _, _, status, _, _ in after}
    assert statuses <= {200, 201, 503}, _summary(traffic.log, killed_at, server)
    failures = [(took, body) for _, _, status, took, body in after if status == 503]
    assert failures, "no request saw the database down"
    for took, body in failures:
        error = httpx.Response(503, content=body).json()
        assert set(error) == {"code", "message", "details", "hint"}, error
        assert took < 5, f"a 503 took {took:.1f}s"
    assert max(took for _, _, _, took, _ in after) < 10
    print(f"\nrecovered in {recovered_at - killed_at:.2f}s; {len(failures)} requests answered 503; "
          f"slowest 503 {max(t for t, _ in failures) * 1000:.0f} ms")

    stored = {r["batch"]: r["count"] for r in sql(server, "select batch, count(*) from items group by batch")}
    missing = traffic.acked - stored.keys()
    assert not missing, f"{len(missing)} acknowledged inserts lost"
    assert all(count == ROWS for count in stored.values()), "a request's rows were partly written"


def _summary(log, t0: float, server) -> str:
    counts: dict[tuple[int, int], int] = {}
    for began, _, status, _, _ in log:
        if began >= t0 - 1:
            key = (int(began - t0), status)
            counts[key] = counts.get(key, 0) + 1
    bodies = {status: body[:200] for _, _, status, _, body in log if status not in (200, 201)}
    return (f"per second after the kill (second, status): {sorted(counts.items())}; bodies: {bodies}\n"
            f"server log:\n{server.output()}")


@pytest.mark.slow
async def test_auth_and_realtime_work_again_after_the_postmaster_is_killed(server):
    """The other services' connections (auth pool, the replication stream, the authorization
    connection) come back too: a user signs in, and a subscriber gets a change committed after
    the restart."""
    import asyncio

    from tests.faults.test_realtime_after_kill import insert
    from tests.localbase.realtime.conftest import client, subscribed

    headers = {"apikey": server.anon_key}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=10) as http:
        r = await http.post("/auth/v1/signup", json={"email": "kill@example.com", "password": "secret-pass-1"})
        assert r.status_code == 200, r.text
        token, uid = r.json()["access_token"], r.json()["user"]["id"]
    c = await client(server, token)
    try:
        _, inbox = await subscribed(c, "faults-pgkill", event="INSERT", schema="public", table="items")
        await insert(server, token, 1)
        await inbox.wait_for(1)

        old = postmaster_pid(server)
        os.kill(old, signal.SIGKILL)
        deadline = time.monotonic() + 20
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=10) as http:
            while True:  # auth answers again once PostgreSQL is back
                r = await http.post("/auth/v1/token?grant_type=password",
                                    json={"email": "kill@example.com", "password": "secret-pass-1"})
                if r.status_code == 200:
                    break
                assert r.status_code in (500, 503) and time.monotonic() < deadline, r.text
                await asyncio.sleep(0.1)
        assert r.json()["user"]["id"] == uid
        await insert(server, token, 2)
        await inbox.wait_for(2, timeout=15)
        assert [m["data"]["record"]["batch"] for m in inbox.items] == [1, 2]
    finally:
        await c.realtime.close()


@pytest.mark.slow
def test_a_private_http_broadcast_answers_503_while_postgres_is_down(server):
    """Its permission check needs the database: while PostgreSQL is away the answer is a retryable
    503 (never a 500, never a 202 that checked nothing), and 202 again once it is back."""
    url = f"{server.url}/realtime/v1/api/broadcast"
    headers = {"apikey": server.service_role_key}
    body = {"messages": [{"topic": "room:1", "event": "x", "payload": {}, "private": True}]}
    assert httpx.post(url, headers=headers, json=body, timeout=10).status_code == 202
    os.kill(postmaster_pid(server), signal.SIGKILL)
    statuses = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        statuses.append(httpx.post(url, headers=headers, json=body, timeout=10).status_code)
        if statuses[-1] == 202 and 503 in statuses:
            break
        time.sleep(0.01)
    assert set(statuses) <= {202, 503} and 503 in statuses and statuses[-1] == 202, statuses
