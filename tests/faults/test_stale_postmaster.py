"""A PostgreSQL or a postmaster.pid left behind on the data folder: Localbase starts all the same,
on the same data, with one PostgreSQL on the folder."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time

import httpx
import pytest

from localbase.database.embedded import SERVICE_USER, bin_dir
from tests.faults.conftest import (
    new_user,
    pid_alive,
    postmaster_pid,
    rest_headers,
    wait_gone,
)
from tests.localbase.helpers import sql


def insert_one(server, token: str, batch: int) -> None:
    r = httpx.post(f"{server.url}/rest/v1/items", json={"batch": batch, "n": 0},
                   headers={**rest_headers(server, token), "Prefer": "return=minimal"}, timeout=10)
    assert r.status_code == 201, r.text


def as_service_user() -> dict:
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(SERVICE_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid}


@pytest.mark.slow
def test_both_killed_leaves_a_stale_pid_file_which_is_ignored(server):
    _, token = new_user(server)
    insert_one(server, token, 1)
    postmaster = postmaster_pid(server)
    os.kill(postmaster, signal.SIGKILL)
    server.kill()
    wait_gone(postmaster)
    assert (server.data_dir / "pgdata" / "postmaster.pid").exists()
    server.start()
    assert [r["batch"] for r in sql(server, "select batch from items")] == [1]


@pytest.mark.slow
def test_a_postgres_left_running_on_the_folder_is_stopped_and_replaced(server):
    """A PostgreSQL that Localbase lost track of (started by hand, or whose parent-death signal
    never came) holds the folder and the port: start stops it cleanly and runs its own."""
    _, token = new_user(server)
    insert_one(server, token, 1)
    server.stop()
    pgdata = server.data_dir / "pgdata"
    stray = subprocess.Popen(
        [str(bin_dir() / "postgres"), "-D", str(pgdata), "-p", str(server.db_port),
         "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={server.data_dir / 'run'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, **as_service_user())
    try:
        deadline = time.monotonic() + 20
        while postmaster_pid(server) != stray.pid:
            assert stray.poll() is None and time.monotonic() < deadline, "the stray PostgreSQL did not start"
            time.sleep(0.05)
        server.start()
        stray.wait(15)  # stopped by Localbase (fast shutdown: exit code 0)
        assert stray.returncode == 0
        assert postmaster_pid(server) != stray.pid
        insert_one(server, token, 2)
        assert sorted(r["batch"] for r in sql(server, "select batch from items")) == [1, 2]
    finally:
        if stray.poll() is None:
            stray.kill()
            stray.wait()


@pytest.mark.slow
def test_a_stale_pid_file_naming_a_live_unrelated_process_does_not_block_start(server):
    """After a crash the pid in postmaster.pid can be reused by any process (pids are small in
    containers); when it is not a PostgreSQL on this folder the file is stale."""
    _, token = new_user(server)
    insert_one(server, token, 1)
    pid_file = server.data_dir / "pgdata" / "postmaster.pid"
    lines = pid_file.read_text().splitlines()
    server.stop()
    other = subprocess.Popen(["sleep", "120"], **as_service_user())
    try:
        pid_file.write_text("\n".join([str(other.pid), *lines[1:]]) + "\n")
        server.start()
        assert pid_alive(other.pid), "an unrelated process was signalled"
        insert_one(server, token, 2)
        assert sorted(r["batch"] for r in sql(server, "select batch from items")) == [1, 2]
    finally:
        other.kill()
        other.wait()
