"""The supabase-js compatibility suite (tests/js/*.test.mjs), run by node's built-in test runner
against a real Localbase on tests/localbase/project.

Node reads SUPABASE_URL, SUPABASE_ANON_KEY and SUPABASE_SERVICE_ROLE_KEY; the same files run
against a real Supabase project with that project's schema (see tests/js/README.md)."""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import asyncpg
import pytest

from localbase.security import signing_keys
from localbase.testing.plugin import localbase_fixture

HERE = Path(__file__).parent
PROJECT = HERE.parent / "localbase" / "project"

# What a project's migration would say to have `notes` in Realtime (kept out of the shared test
# project so that the Python tests' servers do not stream it): old records on UPDATE/DELETE.
REALTIME_SETUP = """
alter publication supabase_realtime add table public.notes;
alter table public.notes replica identity full;
-- Private channels: signed-in users may join and broadcast on topics named js-private:*
create policy "js private channels: read" on realtime.messages for select to authenticated
  using (realtime.topic() like 'js-private:%');
create policy "js private channels: send" on realtime.messages for insert to authenticated
  with check (realtime.topic() like 'js-private:%');
"""

# Storage for storage.test.mjs: a private bucket with a folder per user (the policies of Supabase's
# docs) and a public one whose objects signed-in users upload.
STORAGE_SETUP = """
insert into storage.buckets (id, name, public) values ('js-private', 'js-private', false),
  ('js-public', 'js-public', true) on conflict (id) do nothing;
create policy "js: own folder read" on storage.objects for select to authenticated
  using (bucket_id = 'js-private' and (storage.foldername(name))[1] = (select auth.uid()::text));
create policy "js: own folder write" on storage.objects for insert to authenticated
  with check (bucket_id = 'js-private' and (storage.foldername(name))[1] = (select auth.uid()::text));
create policy "js: own folder update" on storage.objects for update to authenticated
  using (bucket_id = 'js-private' and (storage.foldername(name))[1] = (select auth.uid()::text));
create policy "js: own folder delete" on storage.objects for delete to authenticated
  using (bucket_id = 'js-private' and (storage.foldername(name))[1] = (select auth.uid()::text));
create policy "js: public read" on storage.objects for select using (bucket_id = 'js-public');
create policy "js: public upload" on storage.objects for insert to authenticated with check (bucket_id = 'js-public');
"""

js_server = localbase_fixture(PROJECT)


@pytest.fixture(scope="session")
def node() -> str:
    """node, with tests/js's dependencies installed; checked before the server starts. The suite
    runs on the Node 22 that package.json pins (supabase-js >= 2.110 asks for Node >= 22, where
    realtime-js uses Node's own WebSocket), else on the system's node."""
    path = shutil.which("node")
    if path is None:
        pytest.skip("node is not installed")
    _npm_ci()
    pinned = HERE / "node_modules" / ".bin" / "node"
    return str(pinned) if pinned.exists() else path


def _npm_ci() -> None:
    if (HERE / "node_modules").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("node is installed but npm is not: cannot install tests/js's dependencies")
    done = subprocess.run([npm, "ci", "--quiet", "--no-audit", "--no-fund"], cwd=HERE,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"npm ci failed in {HERE}:\n{done.stdout}\n{done.stderr}")


def _setup_realtime(server) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(server.db_url)
        try:
            await conn.execute(REALTIME_SETUP)
            await conn.execute(STORAGE_SETUP)
        finally:
            await conn.close()
    asyncio.run(go())


def _run(node: str, server, files: list[str], **extra_env: str) -> None:
    env = {**os.environ, "SUPABASE_URL": server.url, "SUPABASE_ANON_KEY": server.anon_key,
           "SUPABASE_SERVICE_ROLE_KEY": server.service_role_key, "NO_COLOR": "1",
           "SUPABASE_PUBLISHABLE_KEY": server.publishable_key, "SUPABASE_SECRET_KEY": server.secret_key, **extra_env}
    # --test-force-exit: supabase-js's realtime client keeps a 10 s timer alive after a disconnect.
    done = subprocess.run([node, "--test", "--test-force-exit", "--test-reporter=spec", *files], cwd=HERE, env=env,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"node --test failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
                    f"--- server log (tail) ---\n{server.output()}", pytrace=False)


@pytest.fixture(scope="session")
def js_project(js_server):
    """js_server with the suite's Realtime and Storage set up (once)."""
    _setup_realtime(js_server)
    return js_server


SUITES = sorted(p.name.removesuffix(".test.mjs") for p in HERE.glob("*.test.mjs"))


def test_the_suite_has_files():
    assert SUITES, "no tests/js/*.test.mjs"


# One test per file, so that a selection can run (.ci/run re-runs realtime and auth through three nodes)
@pytest.mark.parametrize("suite", SUITES)
def test_supabase_js(node, js_project, suite):
    _run(node, js_project, [str(HERE / f"{suite}.test.mjs")])


TEST_PHONE, TEST_OTP = "15550001111", "123456"
_SIGNING_KEYS = Path(tempfile.mkdtemp(prefix="lb-js-signing-")) / "signing_keys.json"
_SIGNING_KEYS.write_text(json.dumps([signing_keys.generate("ES256")]))
atexit.register(shutil.rmtree, _SIGNING_KEYS.parent, True)
# The test project with what tests/js/configured needs: an ES256 signing key, the OAuth 2.1
# server's admin API, phone auth with a test number.
configured_server = localbase_fixture(PROJECT, env={
    "LOCALBASE_AUTH_SIGNING_KEYS_PATH": str(_SIGNING_KEYS), "LOCALBASE_AUTH_OAUTH_SERVER_ENABLED": "true",
    "LOCALBASE_AUTH_SMS_ENABLE_SIGNUP": "true", "LOCALBASE_AUTH_SMS_TEST_OTP": f"{TEST_PHONE}={TEST_OTP}"})


def test_supabase_js_configured(node, configured_server):
    files = sorted(str(p) for p in (HERE / "configured").glob("*.test.mjs"))
    assert files, "no tests/js/configured/*.test.mjs"
    _run(node, configured_server, files, TEST_PHONE=TEST_PHONE, TEST_OTP=TEST_OTP)
