"""kill -9 of the Localbase server (not PostgreSQL) while clients write: on restart on the same
data folder, every insert that was acknowledged with a 2xx is there, every request's rows are all
there or none are, and the embedded PostgreSQL of the killed server is gone or reused cleanly."""

from __future__ import annotations

import functools
import time

import httpx
import pytest

from tests.faults.background import Background
from tests.faults.conftest import (
    new_user,
    pid_alive,
    postmaster_pid,
    rest_headers,
    wait_gone,
)
from tests.localbase.helpers import sql

ROWS_PER_REQUEST = 5
WRITERS = 4


class Writers(Background):
    """Threads inserting batches of rows through /rest/v1 until stopped; remembers which
    batches were acknowledged (2xx) and which answered something else."""

    def __init__(self, server, token: str):
        self.server = server
        self.headers = {**rest_headers(server, token), "Prefer": "return=minimal"}
        self.acked: set[int] = set()
        self.failed: list[str] = []
        super().__init__([functools.partial(self._write, w) for w in range(WRITERS)], join_timeout=10)

    def _write(self, worker: int) -> None:
        with httpx.Client(base_url=self.server.url, headers=self.headers, timeout=5) as client:
            i = 0
            while not self.stop.is_set():
                batch = worker * 1_000_000 + i
                i += 1
                rows = [{"batch": batch, "n": k} for k in range(ROWS_PER_REQUEST)]
                try:
                    r = client.post("/rest/v1/items", json=rows)
                except httpx.HTTPError:
                    time.sleep(0.01)  # the server is gone: keep trying until told to stop
                    continue
                if 200 <= r.status_code < 300:
                    self.acked.add(batch)
                else:
                    self.failed.append(f"{r.status_code} {r.text[:200]}")

    def wait_for(self, n: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < n:
            assert time.monotonic() < deadline, f"only {len(self.acked)} inserts acknowledged: {self.failed[:3]}"
            time.sleep(0.01)


def batches(server) -> dict[int, int]:
    return {r["batch"]: r["count"] for r in sql(server, "select batch, count(*) from items group by batch")}


@pytest.mark.slow
def test_kill_9_during_inserts_keeps_every_acknowledged_insert(server):
    _kill_during_inserts(server)


@pytest.mark.slow
def test_kill_9_of_a_multi_worker_server_keeps_every_acknowledged_insert(make_server):
    """`--workers 2`: the supervising process is killed; its workers go with it (parent-death
    signal), and nothing acknowledged by either of them is lost. Between the kill and their exit
    the workers may still answer a request, with a retryable 503 (PostgreSQL went with the
    supervisor): never a pretend success."""
    from tests.localbase.process.test_worker_pool import pids_by_worker
    server = make_server(extra_args=["--workers", "2"]).start()
    workers = pids_by_worker(server)
    assert set(workers) == {0, 1}
    _kill_during_inserts(server, retryable_ok=True)
    for pid in workers.values():
        wait_gone(pid, timeout=15)


def _kill_during_inserts(server, *, retryable_ok: bool = False) -> None:
    _, token = new_user(server)
    old_postmaster = postmaster_pid(server)
    with Writers(server, token) as writers:
        writers.wait_for(150)
        server.kill()
        killed_at = len(writers.acked)
        time.sleep(0.3)  # the writers now hit a dead port
    failed = [f for f in writers.failed if not (retryable_ok and f.startswith('503 '))]
    assert not failed, failed[:5]
    acked = set(writers.acked)
    assert len(acked) >= killed_at

    # the embedded PostgreSQL goes with its parent (parent-death signal, a fast clean shutdown)
    wait_gone(old_postmaster, timeout=15)

    server.start()
    stored = batches(server)
    missing = acked - stored.keys()
    assert not missing, f"{len(missing)} acknowledged inserts lost, e.g. {sorted(missing)[:5]}"
    assert all(count == ROWS_PER_REQUEST for count in stored.values()), "a request's rows were partly written"
    assert postmaster_pid(server) != old_postmaster

    # and the restarted server takes writes again
    r = httpx.post(f"{server.url}/rest/v1/items", json={"batch": -1, "n": 0},
                   headers={**rest_headers(server, token), "Prefer": "return=representation"}, timeout=10)
    assert r.status_code == 201, r.text


@pytest.mark.slow
def test_restart_right_after_kill_9_waits_for_the_old_postgres(server):
    """The restart races the old postmaster's shutdown: it must stop or wait for it, not fail
    with 'lock file already exists' or 'port in use', and not start a second server on the folder."""
    _, token = new_user(server)
    with Writers(server, token) as writers:
        writers.wait_for(50)
        old_postmaster = postmaster_pid(server)
        server.kill()
        server.start()  # immediately: the old PostgreSQL may still be shutting down
    assert not pid_alive(old_postmaster)
    missing = set(writers.acked) - batches(server).keys()
    assert not missing, f"{len(missing)} acknowledged inserts lost"
