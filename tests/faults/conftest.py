"""Fault tests: each test starts real Localbase servers (tests/faults/project) on data folders of
their own, then breaks something (kill -9, a full or read-only disk, abusive clients) and checks
what a client sees and what the database keeps."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import httpx
import pytest

from localbase.testing.server import LocalbaseProcess
from tests.localbase.helpers import user_token

PROJECT = Path(__file__).parent / "project"


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "slow: a fault test that takes several seconds (still run by default)")


@pytest.fixture
def make_server():
    """Localbase servers on fresh data folders, stopped (and their PostgreSQL with them) at the end."""
    made: list[LocalbaseProcess] = []

    def make(**kw) -> LocalbaseProcess:
        server = LocalbaseProcess(kw.pop("project", PROJECT), **kw)
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()
        pid = postmaster_pid(server)
        if pid and pid_alive(pid):  # never leave a PostgreSQL behind, whatever the test did
            os.kill(pid, signal.SIGKILL)
        server.cleanup()


@pytest.fixture
def server(make_server) -> LocalbaseProcess:
    return make_server().start()


def postmaster_pid(server: LocalbaseProcess) -> int | None:
    try:
        return int((server.data_dir / "pgdata" / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def wait_gone(pid: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            raise AssertionError(f"process {pid} still alive after {timeout}s")
        time.sleep(0.02)


def new_user(server: LocalbaseProcess) -> tuple[str, str]:
    uid = str(uuid.uuid4())
    return uid, user_token(server, uid)


def rest_headers(server: LocalbaseProcess, token: str | None = None) -> dict[str, str]:
    return {"apikey": server.anon_key, "Authorization": f"Bearer {token or server.anon_key}"}


def assert_normal_request_works(server: LocalbaseProcess) -> None:
    """What a well-behaved client does right after an abusive one: it must simply work."""
    r = httpx.get(f"{server.url}/rest/v1/items?select=id&limit=1", headers=rest_headers(server), timeout=10)
    assert r.status_code == 200, (r.status_code, r.text)
