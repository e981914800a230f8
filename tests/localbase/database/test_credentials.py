"""The embedded PostgreSQL is not open to every local account (issue 12, item 2).

Before: `local all all trust` in pg_hba.conf, a socket anyone could reach, and TCP taking the
well-known postgres/postgres, so any OS account on the machine was a superuser (auth.users'
hashes, COPY ... TO PROGRAM as the account running Localbase). Now: the socket's folder is
private to the server's account and answers the account running Localbase only (peer), TCP asks
for a generated password (scram-sha-256), nothing is `trust`, and a data folder of an earlier
version is secured on its next start.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import stat
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import asyncpg
import pytest

from localbase.database.embedded import bin_dir
from localbase.testing.server import LocalbaseProcess, free_port
from tests.localbase.helpers import temp_project

ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
OLD_HBA = """\
local   all             all                                     trust
local   replication     all                                     trust
host    all             all             127.0.0.1/32            scram-sha-256
"""


def lb(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "localbase", *args], capture_output=True, text=True,
                          env={**ENV, **(env or {})}, timeout=120, check=False)


@pytest.fixture
def folder():
    with temp_project("lb-access-") as root:
        yield root


@pytest.fixture
def server(folder):
    server = LocalbaseProcess(folder, folder / ".localbase")
    server.start()
    yield server
    server.cleanup()


def status_db_url(project: Path) -> str:
    out = lb("status", "-o", "env", "--workdir", str(project))
    assert out.returncode == 0, out.stderr
    values = dict(line.split("=", 1) for line in out.stdout.strip().splitlines())
    return values["DB_URL"].strip('"')


async def login(url: str | None = None, **kwargs) -> str:
    """'ok', or the class of the error PostgreSQL refused the login with."""
    try:
        conn = await asyncpg.connect(url, timeout=10, **kwargs) if url else await asyncpg.connect(timeout=10, **kwargs)
    except (asyncpg.PostgresError, OSError) as exc:
        return type(exc).__name__
    await conn.close()
    return "ok"


def socket_dir(server: LocalbaseProcess) -> Path:
    return next(p.parent for p in [*server.data_dir.glob("run/.s.PGSQL.*"), *Path(tempfile.gettempdir()).glob(
        "localbase-*/.s.PGSQL.*")] if p.name == f".s.PGSQL.{server.db_port}")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- TCP: a password, and not a well-known one ----------------------------------------------------
def test_the_well_known_or_a_wrong_password_is_refused_over_tcp(server):
    tcp = {"host": "127.0.0.1", "port": server.db_port, "user": "postgres", "database": "postgres"}
    assert asyncio.run(login(**tcp, password="postgres")) == "InvalidPasswordError"
    assert asyncio.run(login(**tcp, password="wrong")) == "InvalidPasswordError"
    assert asyncio.run(login(**tcp)) in ("InvalidPasswordError", "ClientCannotConnectError")  # no password
    for role in ("authenticator", "supabase_auth_admin", "supabase_realtime_admin"):  # no password at all
        assert asyncio.run(login(**{**tcp, "user": role}, password="postgres")) == "InvalidPasswordError"
    url = status_db_url(server.project_dir)  # `status -o env` still prints a DB_URL that works
    assert asyncio.run(login(url)) == "ok"
    password = (server.data_dir / "db_password").read_text().strip()
    assert len(password) >= 32 and password in url and mode(server.data_dir / "db_password") == 0o600


def test_no_trust_and_nothing_readable_by_other_accounts(server):
    hba = (server.data_dir / "pgdata" / "pg_hba.conf").read_text()
    rules = [line.split() for line in hba.splitlines() if line.strip() and not line.startswith("#")]
    assert rules and all("trust" not in rule for rule in rules)
    assert [r[0] for r in rules] == ["local", "host"]
    assert rules[1][3] == "127.0.0.1/32" and rules[1][4] == "scram-sha-256"
    assert mode(socket_dir(server)) == 0o700
    for name in ("keys.json", "db_password", "server.json", "postgres.log"):
        assert mode(server.data_dir / name) & 0o077 == 0, name
    assert mode(server.data_dir) & 0o066 == 0
    # the socket still answers the account that runs Localbase (peer authentication)
    assert asyncio.run(login(host=str(socket_dir(server)), port=server.db_port, user="postgres")) == "ok"


# -- another OS account -------------------------------------------------------------------------
@pytest.fixture
def intruder():
    if os.geteuid() != 0:
        pytest.skip("needs root to create a throwaway OS account (CI runs as root); "
                    "another account's access is then checked for real")
    name = f"lbx{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True,
                   capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


def as_account(account: pwd.struct_passwd, *argv: str, password: str | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PGCONNECT_TIMEOUT": "5", "HOME": "/tmp"}
    if password is not None:
        env["PGPASSWORD"] = password
    return subprocess.run(list(argv), user=account.pw_uid, group=account.pw_gid, extra_groups=[], cwd="/",
                          env=env, capture_output=True, text=True, timeout=30, check=False)


def test_another_os_account_cannot_connect(server, intruder):
    psql = str(bin_dir() / "psql")
    sock = socket_dir(server)
    on_socket = f"host={sock} port={server.db_port} user=postgres dbname=postgres"
    on_tcp = f"host=127.0.0.1 port={server.db_port} user=postgres dbname=postgres"
    me = pwd.getpwuid(os.geteuid())
    # the same commands work for the account that runs Localbase: the refusals below are real ones
    assert as_account(me, psql, "-X", "-w", "-d", on_socket, "-c", "select 1").returncode == 0
    assert as_account(me, psql, "-X", "-w", "-d", on_tcp, "-c", "select 1", password=server.db_password).returncode == 0

    over_socket = as_account(intruder, psql, "-X", "-w", "-d", on_socket, "-c", "select 1")
    assert over_socket.returncode != 0 and "Permission denied" in over_socket.stderr, over_socket.stderr
    for guess in ("postgres", "", "password"):
        over_tcp = as_account(intruder, psql, "-X", "-w", "-d", on_tcp, "-c", "select 1", password=guess)
        assert over_tcp.returncode != 0 and "password" in over_tcp.stderr, over_tcp.stderr
    for secret in ("db_password", "keys.json", "server.json", "postgres.log"):
        read = as_account(intruder, "/bin/cat", str(server.data_dir / secret))
        assert read.returncode != 0 and read.stdout == "", secret


# -- a data folder made by an earlier version ---------------------------------------------------
def test_an_earlier_versions_data_folder_is_secured_on_start(folder):
    data = folder / ".localbase"
    first = LocalbaseProcess(folder, data)
    first.start()
    sock = socket_dir(first)
    asyncio.run(_set_password(first.db_url, "postgres"))  # as `localbase start` before this change left it
    first.stop()
    (data / "pgdata" / "pg_hba.conf").write_text(OLD_HBA)
    (data / "pgdata" / "pg_ident.conf").write_text("")
    (data / "db_password").unlink()
    sock.chmod(0o777)
    data.chmod(0o755)
    for name in ("keys.json", "postgres.log"):
        (data / name).chmod(0o644)

    again = LocalbaseProcess(folder, data, port=first.port, db_port=first.db_port)
    again.start()
    try:
        assert "trust" not in (data / "pgdata" / "pg_hba.conf").read_text().replace("# ", "#").split("No `trust`")[-1]
        assert mode(sock) == 0o700 and mode(data) & 0o066 == 0
        assert mode(data / "keys.json") == 0o600 and mode(data / "postgres.log") == 0o600
        tcp = {"host": "127.0.0.1", "port": again.db_port, "user": "postgres", "database": "postgres"}
        assert asyncio.run(login(**tcp, password="postgres")) == "InvalidPasswordError"
        assert asyncio.run(login(status_db_url(folder))) == "ok"
    finally:
        again.cleanup()


async def _set_password(url: str, password: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"alter role postgres with password '{password}'")
    finally:
        await conn.close()


# -- production -----------------------------------------------------------------------------------
def test_production_refuses_a_well_known_database_password(folder):
    out = lb("start", "--workdir", str(folder), "--data-dir", str(folder / ".localbase"), "--port", str(free_port()),
             "--db-port", str(free_port()), env={"LOCALBASE_MODE": "production", "LOCALBASE_DB_PASSWORD": "postgres"})
    assert out.returncode == 1 and "well-known password, refused in production" in out.stderr, out.stderr
    assert not (folder / ".localbase" / "pgdata").exists()  # refused before anything was created


def test_a_configured_password_is_used_in_development(folder):
    """Supabase CLI parity on request: `[db] password = "postgres"` in supabase/localbase.toml."""
    (folder / "supabase" / "localbase.toml").write_text('[db]\npassword = "postgres"\n')
    server = LocalbaseProcess(folder, folder / ".localbase")
    server.start()
    try:
        url = status_db_url(folder)
        assert url == f"postgresql://postgres:postgres@127.0.0.1:{server.db_port}/postgres"
        assert asyncio.run(login(url)) == "ok"
        assert not (folder / ".localbase" / "db_password").exists()
    finally:
        server.cleanup()
