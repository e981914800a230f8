"""Start-up shortcuts keep their promises: a warm start skips the bootstrap SQL only when the
database records the same bootstrap (and still applies new migrations); a new cluster made with
initdb --no-sync is written to disk by a clean stop, and survives Localbase being killed."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from localbase.database import bootstrap
from localbase.testing.server import LocalbaseProcess
from tests.localbase.helpers import temp_project

COMMENT = "select obj_description('localbase'::regnamespace, 'pg_namespace')"
# the transaction that last wrote the schema's comment: a skipped bootstrap leaves it as it was
COMMENT_XMIN = ("select xmin::text from pg_description where objoid = 'localbase'::regnamespace "
                "and classoid = 'pg_namespace'::regclass")


@pytest.fixture
def server():
    with temp_project("lb-warm-") as root:
        server = LocalbaseProcess(root, root / ".localbase")
        try:
            yield server
        finally:
            server.cleanup()


async def fetch(server: LocalbaseProcess, sql: str):
    conn = await asyncpg.connect(server.db_url, timeout=10)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def value(server: LocalbaseProcess, sql: str):
    return asyncio.run(fetch(server, sql))


async def _execute(server: LocalbaseProcess, sql: str) -> None:
    conn = await asyncpg.connect(server.db_url, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def execute(server: LocalbaseProcess, sql: str) -> None:
    asyncio.run(_execute(server, sql))


def test_a_warm_start_skips_a_current_bootstrap_and_still_applies_a_new_migration(server):
    server.start()
    assert value(server, COMMENT) == bootstrap.MARK + bootstrap.digest()
    written = value(server, COMMENT_XMIN)
    server.stop()

    (server.project_dir / "supabase" / "migrations" / "20990101000000_notes.sql").write_text(
        "create table public.notes (id bigint primary key, body text);\n"
        "grant select on public.notes to anon;\n"
        "insert into public.notes values (1, 'after a warm start');\n")
    server.start()
    assert value(server, COMMENT_XMIN) == written  # the bootstrap did not run again
    r = httpx.get(f"{server.url}/rest/v1/notes?select=body", headers={"apikey": server.anon_key}, timeout=10)
    assert r.status_code == 200 and r.json() == [{"body": "after a warm start"}]
    assert value(server, "select count(*) from supabase_migrations.schema_migrations "
                         "where version = '20990101000000'") == 1


def test_a_stale_or_missing_bootstrap_record_applies_the_bootstrap_again(server):
    server.start()
    execute(server, "comment on schema localbase is 'Localbase bootstrap sha256:from-an-older-version'")
    execute(server, "drop function auth.uid() cascade")  # repaired by the bootstrap, as before the shortcut
    server.stop()
    server.start()
    assert value(server, COMMENT) == bootstrap.MARK + bootstrap.digest()
    assert value(server, "select to_regprocedure('auth.uid()') is not null") is True

    execute(server, "comment on schema localbase is null")
    server.stop()
    server.start()
    assert value(server, COMMENT) == bootstrap.MARK + bootstrap.digest()


def test_a_new_cluster_is_on_disk_after_a_clean_stop(server):
    server.start()
    marker = server.data_dir / "pgdata.unsynced"
    server.stop()
    assert not marker.exists()  # initdb --sync-only finished before the stop returned
    assert (server.data_dir / "pgdata" / "PG_VERSION").exists()


def test_a_new_cluster_survives_localbase_killed_right_after_it_announced_its_start(server):
    server.start()
    execute(server, "create table public.kept (id int primary key); insert into public.kept values (7)")
    server.kill()  # kill -9: PostgreSQL gets SIGINT from the kernel (parent death) and stops cleanly
    server._wait_database_gone()
    server.start()
    assert value(server, "select id from public.kept") == 7
    server.stop()
    assert not (server.data_dir / "pgdata.unsynced").exists()  # a later start finished the sync
