"""What a start leaves out (PyJWT and cryptography, rich) is not missed: a new server, its output a
log file, prints its ready lines without rich, loads no cryptography, and its first requests
through the supabase client work, own rows by a user's token (verified without PyJWT), and a
refused token (PyJWT's verdict, imported then) in PostgREST's shape; a new cluster's settings."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
import uuid

import asyncpg
import jwt as pyjwt
import pytest
from postgrest.exceptions import APIError

from localbase.security import jwt
from localbase.testing.server import LocalbaseProcess
from supabase import ClientOptions, create_client
from tests.localbase.helpers import temp_project

NOTES = """
create table public.notes (id bigint generated always as identity primary key,
                           owner uuid not null default auth.uid(), body text);
alter table public.notes enable row level security;
create policy own on public.notes for all to authenticated using (owner = auth.uid()) with check (owner = auth.uid());
grant select, insert on public.notes to authenticated;
"""


@pytest.fixture(scope="module")
def server():
    with temp_project("lb-lean-") as root:
        (root / "supabase" / "migrations" / "20240101000000_notes.sql").write_text(NOTES)
        server = LocalbaseProcess(root, root / ".localbase")
        try:
            server.start()
            yield server
        finally:
            server.cleanup()


def loaded_libraries(pid: int) -> str:
    with open(f"/proc/{pid}/maps") as maps:
        return maps.read()


def test_the_ready_lines_are_printed_without_rich(server):
    out = server.output()
    assert re.search(r"^Localbase started in \d+\.\d\ds \(1 migration\(s\) applied", out, re.M)
    assert re.search(rf"^  API_URL +{re.escape(server.url)}$", out, re.M)
    assert re.search(rf"^ANON_KEY={re.escape(server.anon_key)}$", out, re.M)
    assert "Press Ctrl+C to stop." in out and "\x1b[" not in out  # no styles in a log file


def test_the_cli_and_the_api_modules_import_neither_rich_nor_pyjwt():
    code = ("import sys, localbase.cli.main, localbase.gateway.app, localbase.process.server; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'rich', 'jwt', 'cryptography'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_first_requests_through_the_client_and_a_refused_token(server):
    assert "cryptography" not in loaded_libraries(server.process.pid)
    client = create_client(server.url, server.anon_key,
                           options=ClientOptions(auto_refresh_token=False, persist_session=False))
    started = time.perf_counter()
    signed = client.auth.sign_up({"email": f"lean-{uuid.uuid4().hex[:8]}@example.com", "password": "a-long-password-1"})
    client.table("notes").insert({"body": "mine"}).execute()
    rows = client.table("notes").select("body").execute().data
    assert rows == [{"body": "mine"}]
    assert time.perf_counter() - started < 5
    assert "cryptography" not in loaded_libraries(server.process.pid)  # the user's HS256 token: no PyJWT

    claims = pyjwt.decode(signed.session.access_token, options={"verify_signature": False})
    for bad, code in ((jwt.sign_hs256({**claims, "exp": int(time.time()) - 60}, server.jwt_secret), "PGRST303"),
                      (jwt.sign_hs256(claims, "another-secret-of-more-than-32-characters"), "PGRST301")):
        refused_client = create_client(server.url, server.anon_key, options=ClientOptions(
            headers={"Authorization": f"Bearer {bad}"}, auto_refresh_token=False, persist_session=False))
        with pytest.raises(APIError) as refused:
            refused_client.table("notes").select("body").execute()
        assert refused.value.code == code  # PyJWT's verdict (imported now), in PostgREST's words
    assert client.table("notes").select("body").execute().data == [{"body": "mine"}]


async def _setting(server: LocalbaseProcess, name: str) -> str:
    conn = await asyncpg.connect(server.db_url, timeout=10)
    try:
        return await conn.fetchval(f"select current_setting('{name}')")
    finally:
        await conn.close()


def test_a_new_cluster_reads_without_io_workers(server):
    assert asyncio.run(_setting(server, "io_method")) == "sync"
    assert asyncio.run(_setting(server, "fsync")) == "on"
