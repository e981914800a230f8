"""`localbase start` stops cleanly on SIGINT and SIGTERM at any moment, also while it is still
starting (PostgreSQL up, migrations running) and also when started in the background by a shell,
which hands it SIGINT ignored (Python then leaves it ignored)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg2  # type: ignore[import-untyped]  # no stubs installed
import pytest

from localbase.testing.server import free_port
from tests.localbase.cli.test_cli import ENV

PASSWORD = f"signals-{uuid.uuid4().hex}"  # the embedded superuser's (LOCALBASE_DB_PASSWORD)


def migrating(db_port: int) -> bool:
    """The slow migration is running (start-up is half done)."""
    try:
        url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{db_port}/postgres"
        with psycopg2.connect(url, connect_timeout=2) as c, c.cursor() as cur:
            cur.execute("select count(*) from pg_stat_activity where query like 'select pg_sleep(60)%'")
            return cur.fetchone()[0] > 0
    except psycopg2.OperationalError:
        return False


def ignore_sigint() -> None:  # what `localbase start &` gets from a non-interactive shell
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_starting_stops_postgresql_too(sig):
    with tempfile.TemporaryDirectory(prefix="lb-signals-") as folder:
        project = Path(folder)
        (project / "supabase" / "migrations").mkdir(parents=True)
        (project / "supabase" / "migrations" / "20250101000000_slow.sql").write_text("select pg_sleep(60);")
        pid_file = project / ".localbase" / "pgdata" / "postmaster.pid"
        db_port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "localbase", "start", "--port", str(free_port()),
                                 "--db-port", str(db_port)], cwd=project,
                                env={**ENV, "LOCALBASE_DB_PASSWORD": PASSWORD}, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, preexec_fn=ignore_sigint)
        try:
            deadline = time.monotonic() + 90
            while not migrating(db_port):
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.2)
            proc.send_signal(sig)
            output, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if pid_file.exists():  # what the test must not leave behind if it fails
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGQUIT)
        assert proc.returncode == 1, output
        assert "interrupted while starting" in output and "Traceback" not in output
        assert not pid_file.exists(), "PostgreSQL was left running"
