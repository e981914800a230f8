"""`localbase doctor --production` fails for real on a database anyone may enter (issue 12, item 2):
a well-known superuser password over TCP, a `trust` line in pg_hba.conf, a listen address
beyond loopback without TLS; a deployment as Localbase makes it passes the three."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from localbase.database.embedded import EmbeddedPostgres
from localbase.testing.server import LocalbaseProcess, free_port
from tests.localbase.doctor.test_doctor import doctor
from tests.localbase.helpers import temp_project


@pytest.fixture
def folder():
    with temp_project("lb-doctor-access-") as root:
        yield root


def test_as_localbase_makes_it_the_database_access_checks_pass(folder):
    server = LocalbaseProcess(folder, folder / ".localbase")
    server.start()
    try:
        _, checks = doctor(folder, "--production")
        assert checks["database password"]["status"] == "pass", checks["database password"]
        assert checks["database trust"]["status"] == "pass"
        assert checks["database listen"]["status"] == "pass" and "127.0.0.1" in checks["database listen"]["detail"]
    finally:
        server.cleanup()


def test_a_well_known_password_or_a_trust_line_fails_in_production(folder):
    (folder / "supabase" / "localbase.toml").write_text('[db]\npassword = "postgres"\n')  # development parity
    server = LocalbaseProcess(folder, folder / ".localbase")
    server.start()
    try:
        code, checks = doctor(folder, "--production")
        assert code == 1
        check = checks["database password"]
        assert check["status"] == "fail" and "accepts role postgres with a well-known password" in check["detail"]
        _, checks = doctor(folder)  # development: a warning
        assert checks["database password"]["status"] == "warn"

        hba = folder / ".localbase" / "pgdata" / "pg_hba.conf"
        hba.write_text("host all all 127.0.0.1/32 trust\n" + hba.read_text())
        asyncio.run(_reload(server))
        code, checks = doctor(folder, "--production")
        assert code == 1
        assert checks["database trust"]["status"] == "fail" and "line 1: host all all 127.0.0.1" in \
            checks["database trust"]["detail"]
    finally:
        server.cleanup()


async def _reload(server: LocalbaseProcess) -> None:
    conn = await asyncpg.connect(server.db_url)
    try:
        await conn.execute("select pg_reload_conf()")
    finally:
        await conn.close()


class ListeningBeyondLoopback(EmbeddedPostgres):
    """A PostgreSQL told to listen on a non-loopback address too (192.0.2.1, TEST-NET-1: assigned
    to no interface here, so PostgreSQL only warns that it cannot bind it; nothing is exposed)."""

    def options(self) -> dict[str, str]:
        return {**super().options(), "listen_addresses": "127.0.0.1, 192.0.2.1"}


def test_a_listen_address_beyond_loopback_without_tls_fails_in_production(folder):
    data = folder / "db"
    pg = ListeningBeyondLoopback(data, free_port())
    pg.init()
    pg.start()
    try:
        code, checks = doctor(folder, "--production", "--db-url", pg.tcp_url())
        assert code == 1
        listen = checks["database listen"]
        assert listen["status"] == "fail" and "192.0.2.1 without TLS" in listen["detail"], listen
        assert checks["database password"]["status"] == "pass"  # generated, not well-known
    finally:
        pg.stop()
