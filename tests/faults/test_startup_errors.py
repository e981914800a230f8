"""Start-up on a data folder that cannot be used: a clear message naming the folder (or port),
a non-zero exit, and nothing in an existing folder changed."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from localbase.testing.server import LocalbaseProcess, free_port
from tests.faults.conftest import PROJECT

ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}


def start(data_dir: Path, *, port: int | None = None, db_port: int | None = None,
          timeout: float = 60) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "localbase", "start", "--workdir", str(PROJECT), "--data-dir", str(data_dir),
         "--port", str(port or free_port()), "--db-port", str(db_port or free_port()), "--studio-port", "0"],
        capture_output=True, text=True, env=ENV, timeout=timeout, check=False)
    return result


def fingerprint(folder: Path) -> dict[str, str]:
    """Every file's content hash and mode (what 'nothing was changed' means)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.endswith(".log"):
            found[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest() + \
                oct(path.stat().st_mode)
    return found


@contextlib.contextmanager
def mounted_tmpfs(size: str, *, read_only: bool = False):
    """A small file system of its own (needs root and CAP_SYS_ADMIN; the test is skipped without)."""
    folder = Path(tempfile.mkdtemp(prefix="lb-fs-"))
    options = f"size={size},mode=0755" + (",ro" if read_only else "")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True,
                            check=False)
    if result.returncode != 0:
        folder.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def initialized(tmp_path_factory):
    """A data folder Localbase made and stopped cleanly (copied by the tests that break it)."""
    server = LocalbaseProcess(PROJECT)
    server.start()
    server.stop()
    yield server.data_dir
    server.cleanup()


def copy_of(data_dir: Path, *, keep_owner: bool = True) -> Path:
    target = Path(tempfile.mkdtemp(prefix="lb-copy-")) / "data"
    if keep_owner:
        subprocess.run(["cp", "-a", str(data_dir), str(target)], check=True)
    else:  # as `cp -r` by root makes it: every file root's
        shutil.copytree(data_dir, target, symlinks=True)
    (target / "server.log").unlink(missing_ok=True)
    return target


def test_data_folder_under_a_file_is_a_clear_error():
    with tempfile.NamedTemporaryFile(prefix="lb-not-a-folder-") as blocker:
        data_dir = Path(blocker.name) / "data"
        result = start(data_dir)
    assert result.returncode != 0
    assert str(data_dir) in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


def test_read_only_file_system_is_a_clear_error():
    with mounted_tmpfs("4m", read_only=True) as folder:
        data_dir = folder / "data"
        result = start(data_dir)
    assert result.returncode != 0
    assert str(data_dir) in result.stderr and "Read-only file system" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


@pytest.mark.slow
def test_existing_data_folder_made_read_only_is_a_clear_error_and_untouched(initialized):
    """A folder mounted read-only (a backup, a read-only volume): refused before anything runs."""
    data_dir = copy_of(initialized)
    before = fingerprint(data_dir)
    subprocess.run(["mount", "--bind", str(data_dir), str(data_dir)], check=False, capture_output=True)
    remount = subprocess.run(["mount", "-o", "remount,ro,bind", str(data_dir)], capture_output=True, check=False)
    try:
        if remount.returncode != 0:
            pytest.skip(f"cannot bind-mount read-only here: {remount.stderr.decode().strip()}")
        result = start(data_dir)
    finally:
        subprocess.run(["umount", "-l", str(data_dir)], check=False, capture_output=True)
    assert result.returncode != 0
    assert str(data_dir) in result.stderr and "read-only" in result.stderr.lower(), result.stderr
    assert fingerprint(data_dir) == before
    shutil.rmtree(data_dir.parent, ignore_errors=True)


@pytest.mark.slow
def test_full_disk_at_first_start_is_a_clear_error():
    with mounted_tmpfs("2m") as folder:
        data_dir = folder / "data"
        result = start(data_dir)
    assert result.returncode != 0
    assert str(data_dir) in result.stderr and "No space left on device" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


@pytest.mark.slow
def test_data_folder_of_a_newer_postgres_is_refused_untouched(initialized):
    data_dir = copy_of(initialized)
    (data_dir / "pgdata" / "PG_VERSION").write_text("99\n")
    before = fingerprint(data_dir)
    result = start(data_dir)
    assert result.returncode != 0
    assert "PostgreSQL 99" in result.stderr and str(data_dir / "pgdata") in result.stderr, result.stderr
    assert "nothing was changed" in result.stderr
    assert fingerprint(data_dir) == before
    shutil.rmtree(data_dir.parent, ignore_errors=True)


@pytest.mark.slow
def test_api_port_in_use_is_a_clear_error_and_postgres_is_stopped(initialized):
    data_dir = copy_of(initialized)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = start(data_dir, port=port)
    assert result.returncode != 0
    assert f"{port}" in result.stderr and "in use" in result.stderr, result.stderr
    assert not (data_dir / "pgdata" / "postmaster.pid").exists(), "PostgreSQL was left running"
    assert not (data_dir / "server.json").exists()
    shutil.rmtree(data_dir.parent, ignore_errors=True)


@pytest.mark.slow
def test_database_port_in_use_is_a_clear_error_and_the_folder_untouched(initialized):
    data_dir = copy_of(initialized)
    before = fingerprint(data_dir)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = start(data_dir, db_port=port)
    assert result.returncode != 0
    assert f"port {port}" in result.stderr, result.stderr
    assert fingerprint(data_dir) == before
    shutil.rmtree(data_dir.parent, ignore_errors=True)


@pytest.mark.slow
def test_data_folder_copied_by_root_is_handed_back_to_the_service_user(initialized):
    """PostgreSQL runs as a service user when Localbase runs as root; a folder root copied or
    restored (all files root's) is given back to it instead of failing with 'Permission denied'."""
    if os.geteuid() != 0:
        pytest.skip("only root runs PostgreSQL as a service user")
    data_dir = copy_of(initialized, keep_owner=False)
    server = LocalbaseProcess(PROJECT, data_dir)
    try:
        server.start()
    finally:
        server.stop()
        shutil.rmtree(data_dir.parent, ignore_errors=True)


@pytest.mark.slow
def test_disk_full_while_serving_answers_errors_then_recovers_when_space_is_freed(make_server):
    """The data folder's file system fills up under a running server: writes fail with an error in
    PostgREST's shape (no hang, no crash of Localbase), reads go on, and once space is freed writes
    succeed again; every acknowledged write is kept."""
    import time

    import httpx

    from tests.faults.conftest import new_user, rest_headers
    from tests.localbase.helpers import sql

    with mounted_tmpfs("160m") as folder:
        server = make_server(data_dir=folder / "data").start()
        _, token = new_user(server)
        headers = {**rest_headers(server, token), "Prefer": "return=minimal"}
        note = "x" * 200_000  # rows large enough to need new pages (TOAST), not just WAL
        acked = []

        def write(batch: int) -> httpx.Response:
            r = httpx.post(f"{server.url}/rest/v1/items", json={"batch": batch, "n": 0, "note": note},
                           headers=headers, timeout=30)
            if r.status_code == 201:
                acked.append(batch)
            return r

        assert write(0).status_code == 201
        filler = folder / "filler"
        with open(filler, "wb") as fh:  # fill the file system to the last byte
            try:
                while True:
                    fh.write(b"\0" * 2**20)
                    fh.flush()
            except OSError:
                pass
        failures = []
        for batch in range(1, 30):
            began = time.monotonic()
            r = write(batch)
            assert time.monotonic() - began < 20, "a write hung on the full disk"
            if r.status_code != 201:
                failures.append(r)
        assert failures, "no write failed on a full disk"
        for r in failures:
            assert r.status_code in (500, 503, 507), (r.status_code, r.text)
            assert set(r.json()) == {"code", "message", "details", "hint"}, r.text
        print(f"\n{len(failures)} writes refused on the full disk: {failures[0].status_code} {failures[0].text[:200]}")

        filler.unlink()
        deadline = time.monotonic() + 30
        while write(1000).status_code != 201:  # PostgreSQL may be recovering from a failed WAL write
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.2)
        stored = {r["batch"] for r in sql(server, "select batch from items")}
        assert set(acked) <= stored
        server.stop()
