"""The `localbase` command as a user runs it: init, migration new, start, status, stop, db reset,
restarts that keep data, an external DATABASE_URL, and clear errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from localbase.testing.server import LocalbaseProcess, free_port
from tests.localbase.helpers import run_sync

# Studio on any free port: parallel runs (and a developer's own Localbase) may hold 54323
ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "LOCALBASE_STUDIO_PORT": "0"}


def lb(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "localbase", *args], cwd=cwd, capture_output=True, text=True,
                            env=ENV, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"localbase {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture
def project():
    # outside pytest's basetemp (kept 0700 by pytest): PostgreSQL's service user must reach it
    import tempfile
    with tempfile.TemporaryDirectory(prefix="lb-cli-") as folder:
        lb("init", cwd=Path(folder))
        yield Path(folder)


def test_init_creates_supabase_layout(project: Path):
    assert (project / "supabase" / "config.toml").read_text().startswith("# Supabase CLI layout")
    assert (project / "supabase" / "migrations").is_dir()
    assert (project / "supabase" / "seed.sql").exists()
    assert ".localbase/" in (project / ".gitignore").read_text()


def test_migration_new_names_file_with_timestamp(project: Path):
    out = lb("migration", "new", "create_todos", cwd=project).stdout
    files = list((project / "supabase" / "migrations").glob("*_create_todos.sql"))
    assert len(files) == 1 and re.match(r"^\d{14}_create_todos\.sql$", files[0].name)
    assert files[0].name in out.replace("\n", "")
    bad = lb("migration", "new", "bad name;drop", cwd=project, check=False)
    assert bad.returncode == 2 and "letters, digits" in bad.stderr


def _write_migration(project: Path, name: str, sql: str) -> None:
    (project / "supabase" / "migrations" / name).write_text(sql)


def test_start_status_stop_reset_and_persistence(project: Path):
    _write_migration(project, "20250101000000_todos.sql",
                     "create table todos (id serial primary key, title text not null);")
    (project / "supabase" / "seed.sql").write_text("insert into todos (title) values ('seeded');")
    server = LocalbaseProcess(project, project / ".localbase", env={"COLUMNS": "60"})  # a narrow terminal
    server.start()
    try:
        status = lb("status", "-o", "env", "--workdir", str(project), cwd=project).stdout
        values = dict(line.split("=", 1) for line in status.strip().splitlines())
        values = {k: v.strip('"') for k, v in values.items()}
        # the banner prints each key whole on a line of its own (never cut with "…" or folded)
        banner = server.output().splitlines()
        for name in ("ANON_KEY", "SERVICE_ROLE_KEY", "JWT_SECRET"):
            assert f"{name}={values[name]}" in banner, server.output()
        # -o shell exports them: programs started from the shell see them (README, step 2)
        seen = subprocess.run(["bash", "-c", 'eval "$(localbase status -o shell)" && '
                               'python -c "import os; print(os.environ[\'API_URL\'], os.environ[\'ANON_KEY\'])"'],
                              cwd=project, env={**ENV, "PATH": f"{Path(sys.executable).parent}:{ENV['PATH']}"},
                              capture_output=True, text=True, timeout=60)
        assert seen.stdout.split() == [server.url, server.anon_key], seen.stderr
        assert values["API_URL"] == server.url
        assert values["DB_URL"] == server.db_url  # the generated password (database/credentials.py)
        assert values["DB_URL"].startswith("postgresql://postgres:") and ":postgres@" not in values["DB_URL"]
        assert values["ANON_KEY"] == server.anon_key and values["SERVICE_ROLE_KEY"] == server.service_role_key
        assert values["JWT_SECRET"] == server.jwt_secret and len(server.jwt_secret) >= 32
        headers = {"apikey": server.service_role_key, "Authorization": f"Bearer {server.service_role_key}"}
        rows = httpx.get(f"{server.url}/rest/v1/todos?select=title", headers=headers).json()
        assert rows == [{"title": "seeded"}]
        httpx.post(f"{server.url}/rest/v1/todos", json={"title": "kept"}, headers=headers).raise_for_status()
        # migrations are recorded as the Supabase CLI records them
        import asyncpg

        async def history():
            conn = await asyncpg.connect(server.db_url)
            try:
                return await conn.fetch("select version, name from supabase_migrations.schema_migrations")
            finally:
                await conn.close()
        assert [tuple(r) for r in run_sync(history)] == [("20250101000000", "todos")]
        stopped = lb("stop", "--workdir", str(project), cwd=project)
        assert "stopped" in stopped.stdout
        assert server.process.wait(10) == 0
        server.process = None
        server._log.close()
        gone = lb("status", "--workdir", str(project), cwd=project, check=False)
        assert gone.returncode == 1 and "not running" in gone.stderr
        # data survives a restart; the keys stay the same; the migration is not re-applied
        keys_before = server.keys
        server.start()
        assert server.keys == keys_before
        rows = httpx.get(f"{server.url}/rest/v1/todos?select=title&order=id", headers=headers).json()
        assert rows == [{"title": "seeded"}, {"title": "kept"}]
        # db reset: back to migrations + seed
        _write_migration(project, "20250102000000_more.sql", "alter table todos add column done bool default false;")
        reset = lb("db", "reset", "--workdir", str(project), "--data-dir", str(server.data_dir), cwd=project)
        assert "database reset" in reset.stdout
        for _ in range(50):  # the server's pool reconnects after the database was re-created
            r = httpx.get(f"{server.url}/rest/v1/todos?select=title,done", headers=headers)
            if r.status_code == 200:
                break
            time.sleep(0.1)
        assert r.json() == [{"title": "seeded", "done": False}]
    finally:
        server.stop()


def test_second_start_on_same_folder_is_refused(localbase_server):
    result = lb("start", "--workdir", str(localbase_server.project_dir), "--data-dir", str(localbase_server.data_dir),
                "--port", str(free_port()), "--db-port", str(free_port()), cwd=localbase_server.project_dir,
                check=False)
    assert result.returncode == 1 and "already running" in result.stderr


def test_port_in_use_is_a_clear_error(project: Path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = lb("start", "--db-port", str(port), "--port", str(free_port()), "--studio-port", "0", cwd=project,
                    check=False)
    assert result.returncode == 1 and f"port {port}" in result.stderr


def test_bad_migration_stops_start_with_its_name(project: Path):
    _write_migration(project, "20250101000000_broken.sql", "create table oops (;")
    result = lb("start", "--port", str(free_port()), "--db-port", str(free_port()), "--studio-port", "0", cwd=project,
                check=False)
    assert result.returncode == 1 and "20250101000000_broken.sql" in result.stderr


def test_external_database_url(localbase_server, project: Path):
    """DATABASE_URL points Localbase at any PostgreSQL: here, another database of the test cluster."""
    import asyncpg

    async def create():
        conn = await asyncpg.connect(localbase_server.db_url)
        try:
            await conn.execute("drop database if exists external_test with (force)")
            await conn.execute("create database external_test")
        finally:
            await conn.close()
    run_sync(create)
    tmp_path = project
    _write_migration(tmp_path, "20250101000000_t.sql", "create table t (id int primary key); insert into t values (7);")
    url = localbase_server.db_url.rsplit("/", 1)[0] + "/external_test"
    server = LocalbaseProcess(tmp_path, tmp_path / ".localbase", env={"DATABASE_URL": url})
    server.start()
    try:
        r = httpx.get(f"{server.url}/rest/v1/t", headers={"apikey": server.anon_key})
        assert r.status_code == 200 and r.json() == [{"id": 7}]
        assert not (tmp_path / ".localbase" / "pgdata").exists()  # nothing embedded was started
    finally:
        server.stop()


def test_too_many_workers_are_refused_before_anything_starts(project: Path):
    result = lb("start", "--workers", "9", "--workdir", str(project), cwd=project, check=False)
    assert result.returncode == 2
    # the bound as typer words it (before 0.29 its own range check, from 0.29 pydantic's)
    assert "--workers" in result.stderr and ("1<=x<=8" in result.stderr or "less than or equal to 8" in result.stderr)
    assert not (project / ".localbase" / "pgdata").exists()
