"""`localbase db dump` / `db restore` round trips with real data on a running server (custom and
plain formats), a dump of any DATABASE_URL, and scheduled dumps while the server runs."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from localbase.backup import scheduler
from localbase.backup.config import BackupConfig, parse_interval
from localbase.backup.tools import tool
from localbase.settings import SettingsError
from localbase.testing.server import LocalbaseProcess, free_port
from tests.localbase.helpers import sql

ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
SCHEMA = """
create table notes (
  id bigint generated always as identity primary key,
  owner uuid not null default auth.uid() references auth.users (id),
  body text not null,
  meta jsonb not null default '{}'
);
alter table notes enable row level security;
create policy own_notes on notes for all to authenticated
  using (owner = auth.uid()) with check (owner = auth.uid());
grant select, insert, update, delete on notes to authenticated;
alter publication supabase_realtime add table notes;
"""


def lb(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "localbase", *args], cwd=cwd, capture_output=True, text=True,
                            env=ENV, timeout=180, stdin=subprocess.DEVNULL, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"localbase {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


def archive_list(file: Path) -> str:
    return subprocess.run([tool("pg_restore"), "--list", str(file)], capture_output=True, text=True,
                          check=True).stdout


def make_project(folder: Path, localbase_toml: str = "") -> Path:
    (folder / "supabase" / "migrations").mkdir(parents=True)
    (folder / "supabase" / "migrations" / "20250101000000_notes.sql").write_text(SCHEMA)
    if localbase_toml:
        (folder / "supabase" / "localbase.toml").write_text(localbase_toml)
    return folder


@pytest.fixture(scope="module")
def server():
    with tempfile.TemporaryDirectory(prefix="lb-backup-") as folder:
        project = make_project(Path(folder))
        with LocalbaseProcess(project, project / ".localbase") as s:
            yield s


def sign_up(s, email: str, password: str) -> str:
    r = httpx.post(f"{s.url}/auth/v1/signup", json={"email": email, "password": password},
                   headers={"apikey": s.anon_key})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def sign_in(s, email: str, password: str) -> httpx.Response:
    return httpx.post(f"{s.url}/auth/v1/token?grant_type=password", json={"email": email, "password": password},
                      headers={"apikey": s.anon_key})


def notes(s, token: str) -> list[dict]:
    r = httpx.get(f"{s.url}/rest/v1/notes?select=body,meta&order=id",
                  headers={"apikey": s.anon_key, "Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("fmt", ["custom", "plain"])
def test_round_trip_with_real_data_on_the_running_server(server, fmt):
    s, project = server, server.project_dir
    email = f"backup-{fmt}@example.com"
    token = sign_up(s, email, "Backup-pass-1")
    headers = {"apikey": s.anon_key, "Authorization": f"Bearer {token}"}
    rows = [{"body": f"note {i}", "meta": {"n": i, "tags": ["a", "é"]}} for i in range(50)]
    assert httpx.post(f"{s.url}/rest/v1/notes", json=rows, headers=headers).status_code == 201
    before = notes(s, token)
    dump = project / f"backup.{fmt}"
    out = lb("db", "dump", "-f", str(dump), "--format", fmt, "--workdir", str(project), cwd=project)
    assert "dump written" in out.stdout
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600  # it holds password hashes
    assert not list(project.glob("*.partial"))
    if fmt == "custom":
        listing = archive_list(dump)
        assert " TABLE DATA public notes " in listing
        # the sign-up above counted in auth.rate_limit_windows: the table is dumped, not its rows
        assert " TABLE auth rate_limit_windows " in listing
        assert " TABLE DATA auth rate_limit_windows " not in listing

    # everything changes after the dump: rows deleted and added, the password changed
    sql(s, "delete from public.notes where body <> 'note 0'")
    httpx.post(f"{s.url}/rest/v1/notes", json={"body": "after the dump"}, headers=headers).raise_for_status()
    httpx.put(f"{s.url}/auth/v1/user", json={"password": "Changed-pass-2"}, headers=headers).raise_for_status()
    assert len(notes(s, token)) == 2

    refused = lb("db", "restore", str(dump), "--workdir", str(project), cwd=project, check=False)
    assert refused.returncode != 0  # no --yes and nobody to confirm: nothing is touched
    assert len(notes(s, token)) == 2

    out = lb("db", "restore", str(dump), "--yes", "--workdir", str(project), cwd=project)
    assert "restored" in out.stdout
    deadline = time.monotonic() + 15  # the server's pools reconnect to the re-created database
    while True:
        try:
            if notes(s, token) == before:
                break
        except AssertionError:
            pass
        assert time.monotonic() < deadline, "the restored rows never showed through REST"
        time.sleep(0.2)
    assert sign_in(s, email, "Backup-pass-1").status_code == 200   # the password of the dump
    assert sign_in(s, email, "Changed-pass-2").status_code == 400
    versions = [r["version"] for r in sql(s, "select version from supabase_migrations.schema_migrations")]
    assert versions == ["20250101000000"]
    published = sql(s, "select tablename from pg_publication_tables where pubname = 'supabase_realtime'")
    assert [r["tablename"] for r in published] == ["notes"]
    # RLS came back with the table: another user sees none of these notes
    other = sign_up(s, f"other-{fmt}@example.com", "Other-pass-1")
    assert notes(s, other) == []
    # realtime's slot is re-created by the running server
    deadline = time.monotonic() + 15
    while not sql(s, "select 1 from pg_replication_slots where active"):
        assert time.monotonic() < deadline, "realtime did not re-create its slot"
        time.sleep(0.2)
    sql(s, "delete from public.notes")
    sql(s, "delete from auth.users")


def test_dump_any_database_url(localbase_server):
    """--db-url (or DATABASE_URL) with a password: no server of this project needed."""
    with tempfile.TemporaryDirectory(prefix="lb-dump-url-") as folder:
        cwd = Path(folder)
        out = lb("db", "dump", "--db-url", localbase_server.db_url, "--workdir", str(cwd), cwd=cwd)
        files = list(cwd.glob("localbase-postgres-*.dump"))
        assert len(files) == 1, out.stdout
        listing = archive_list(files[0])
        assert " TABLE DATA public countries " in listing and " TABLE DATA auth users " in listing
        assert "postgres:postgres" not in out.stdout + out.stderr  # the password is not shown


def test_dump_of_a_stopped_project_starts_its_database_for_the_occasion():
    with tempfile.TemporaryDirectory(prefix="lb-dump-stopped-") as folder:
        project = make_project(Path(folder))
        (project / "supabase" / "config.toml").write_text(f"[db]\nport = {free_port()}\n")  # not 54322: in use?
        lb("db", "reset", "--workdir", str(project), cwd=project)  # creates the database, then stops it
        lb("db", "dump", "-f", "out.dump", "--workdir", str(project), cwd=project)
        assert " TABLE public notes " in archive_list(project / "out.dump")
        assert not (project / ".localbase" / "server.json").exists()


def test_schedule_values():
    assert parse_interval("daily") == 86400 and parse_interval("hourly") == 3600
    assert parse_interval("90s") == 90 and parse_interval("15m") == 900 and parse_interval("2d") == 172800
    assert parse_interval(30) == 30
    for bad in ("sometimes", "0s", "-5m"):
        with pytest.raises(SettingsError):
            parse_interval(bad)


async def test_scheduled_backups_run_in_the_first_worker_only(tmp_path, as_worker):
    """With `--workers N` one dump per interval for the deployment: worker 0 schedules, not the others."""
    settings = SimpleNamespace(section=lambda name: {"schedule": "1h"} if name == "backup" else {},
                               project_dir=tmp_path, data_dir=tmp_path)
    db = SimpleNamespace(admin_dsn="postgresql://postgres@127.0.0.1:1/postgres")  # no dump is due yet
    for index, schedules in ((1, False), (2, False), (0, True)):
        as_worker(index, 3)
        app = SimpleNamespace(state=SimpleNamespace(settings=settings, db=db,
                                                    services=SimpleNamespace(backup=BackupConfig.from_settings(settings))))
        await scheduler.startup(app)
        try:
            assert (app.state.backup is not None) == schedules, index
        finally:
            await scheduler.shutdown(app)


def test_scheduled_backups_while_running_keep_the_newest():
    with tempfile.TemporaryDirectory(prefix="lb-sched-") as folder:
        project = make_project(Path(folder), '[backup]\nschedule = "2s"\ndir = "backups"\nkeep = 2\n')
        s = LocalbaseProcess(project, project / ".localbase")
        s.start()
        try:
            sql(s, "insert into auth.users (id, email) values (gen_random_uuid(), 'sched@example.com')")
            metrics = {}
            deadline = time.monotonic() + 30
            while metrics.get("localbase_backup_successes_total", 0) < 3:
                assert time.monotonic() < deadline, s.output()
                time.sleep(0.5)
                text = httpx.get(f"{s.url}/metrics", headers={"apikey": s.service_role_key}).text
                metrics = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
                           if line.startswith("localbase_backup")}
            assert metrics["localbase_backup_failures_total"] == 0
            assert metrics["localbase_backup_last_success_timestamp_seconds"] > time.time() - 30
            folder_ = project / "backups"
            time.sleep(0.3)  # a dump may be being written: its final name appears only when complete
            dumps = sorted(folder_.glob("localbase-postgres-*.dump"))
            assert len(dumps) == 2, dumps
            assert stat.S_IMODE(folder_.stat().st_mode) == 0o700
            for dump in dumps:
                assert stat.S_IMODE(dump.stat().st_mode) == 0o600
                assert " TABLE DATA auth users " in archive_list(dump)
        finally:
            assert s.stop() == 0
