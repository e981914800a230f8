"""Which API keys the gateway takes, through supabase-py:

- the Supabase CLI's well-known development keys once its well-known JWT secret is set (any JWT
  signed with the project's keys whose role is anon or service_role, as on the CLI's stack);
- the new key format: `sb_publishable_...` (anon) and `sb_secret_...` (service_role), generated
  per data folder, in the apikey header and (as supabase-js and supabase-py send them) as the
  bearer token too - REST, Auth, Realtime;
- keys fixed by the environment / config.toml, checked at start.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import httpx
import pytest

from localbase.security import jwt
from localbase.settings import SettingsError, load_settings
from localbase.testing.plugin import localbase_fixture
from supabase import AsyncClientOptions, ClientOptions, acreate_client, create_client

PROJECT = Path(__file__).parents[1] / "project"
# The Supabase CLI's defaults (`supabase status`), the same in every CLI install.
CLI_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
CLI_ANON_KEY = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5O"
                "DM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0")
CLI_SERVICE_KEY = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZS"
                   "IsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU")

cli_secret_server = localbase_fixture(PROJECT, env={"LOCALBASE_JWT_SECRET": CLI_SECRET})


def sb(server, key: str):
    return create_client(server.url, key, options=ClientOptions(auto_refresh_token=False, persist_session=False))


def whoami(client) -> dict:
    return client.rpc("whoami").execute().data


def test_the_cli_development_keys_work_with_its_jwt_secret(cli_secret_server):
    assert whoami(sb(cli_secret_server, CLI_ANON_KEY))["role"] == "anon"
    admin = sb(cli_secret_server, CLI_SERVICE_KEY)
    assert whoami(admin)["role"] == "service_role"
    email = f"cli-{uuid.uuid4().hex[:8]}@example.com"
    created = admin.auth.admin.create_user({"email": email, "password": "correct-horse-1", "email_confirm": True})
    assert created.user.email == email
    # the server's own generated keys keep working beside them
    assert whoami(sb(cli_secret_server, cli_secret_server.anon_key))["role"] == "anon"


def test_other_jwts_are_not_api_keys(cli_secret_server):
    now = int(time.time())
    user = jwt.sign({"sub": str(uuid.uuid4()), "role": "authenticated", "exp": now + 60}, CLI_SECRET)
    expired = jwt.sign({"role": "anon", "exp": now - 60}, CLI_SECRET)
    foreign = jwt.sign({"role": "service_role"}, "another-secret-of-at-least-32-characters!!")
    for key in (user, expired, foreign, "sb_publishable_not-this-projects-key", "sb_secret_nope"):
        r = httpx.get(f"{cli_secret_server.url}/rest/v1/countries", headers={"apikey": key})
        assert r.status_code == 401, (key, r.text)
        assert r.json()["message"] == "Invalid API key"


def test_publishable_and_secret_keys(localbase_server):
    keys = localbase_server.keys
    publishable, secret = keys["publishable_key"], keys["secret_key"]
    assert publishable.startswith("sb_publishable_") and secret.startswith("sb_secret_")
    anon = sb(localbase_server, publishable)
    assert whoami(anon)["role"] == "anon"
    assert anon.table("countries").select("name").limit(1).execute().data is not None
    admin = sb(localbase_server, secret)
    assert whoami(admin)["role"] == "service_role"
    assert admin.auth.admin.list_users(per_page=1) is not None
    # a user signed in through a client built on the publishable key: the session's JWT wins
    email = f"pk-{uuid.uuid4().hex[:8]}@example.com"
    session = anon.auth.sign_up({"email": email, "password": "correct-horse-1"}).session
    assert session is not None
    me = whoami(anon)
    assert (me["role"], me["uid"]) == ("authenticated", session.user.id)


def test_opaque_keys_in_the_authorization_header(localbase_server):
    """`Authorization: Bearer sb_...` never reaches a service as a token: the apikey's role JWT
    stands in for it, whichever key the bearer names (as the Supabase CLI's gateway)."""
    keys = localbase_server.keys
    rpc = f"{localbase_server.url}/rest/v1/rpc/whoami"
    as_anon = httpx.post(rpc, headers={"apikey": keys["publishable_key"],
                                       "Authorization": f"Bearer {keys['secret_key']}"})
    assert as_anon.status_code == 200 and as_anon.json()["role"] == "anon"
    no_bearer = httpx.post(rpc, headers={"apikey": keys["secret_key"]})
    assert no_bearer.json()["role"] == "service_role"
    legacy = httpx.post(rpc, headers={"apikey": keys["anon_key"], "Authorization": f"Bearer {keys['secret_key']}"})
    assert legacy.json()["role"] == "anon"


async def test_realtime_with_the_publishable_key(localbase_server):
    """supabase-py's realtime client joins with the key as its token when signed out."""
    c = await acreate_client(localbase_server.url, localbase_server.keys["publishable_key"],
                             options=AsyncClientOptions(auto_refresh_token=False, persist_session=False))
    try:
        await c.realtime.set_auth(localbase_server.keys["publishable_key"])
        got, status = [], []
        ch = c.channel(f"pk-{uuid.uuid4().hex[:8]}", {"config": {"broadcast": {"self": True, "ack": True}}})
        ch.on_broadcast("ping", got.append)
        await ch.subscribe(lambda state, err: status.append((state, err)))
        for _ in range(100):
            if status:
                break
            await asyncio.sleep(0.05)
        assert status and status[-1][0] == "SUBSCRIBED", status
        await ch.send_broadcast("ping", {"n": 1})
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.05)
        assert got and got[0]["payload"] == {"n": 1}
    finally:
        await c.realtime.close()


def test_fixed_keys_from_the_environment(tmp_path, monkeypatch):
    (tmp_path / "supabase").mkdir()
    secret = "x" * 40
    anon = jwt.sign({"role": "anon", "iss": "ci"}, secret)
    monkeypatch.setenv("LOCALBASE_JWT_SECRET", secret)
    monkeypatch.setenv("LOCALBASE_ANON_KEY", anon)
    monkeypatch.setenv("LOCALBASE_PUBLISHABLE_KEY", "sb_publishable_fixed-for-ci-0123456789")
    settings = load_settings(tmp_path, data_dir=tmp_path / "data")
    assert (settings.anon_key, settings.publishable_key) == (anon, "sb_publishable_fixed-for-ci-0123456789")
    stored = json.loads((tmp_path / "data" / "keys.json").read_text())
    assert stored["anon_key"] == anon and stored["secret_key"].startswith("sb_secret_")
    assert jwt.verify(stored["service_role_key"], secret)["role"] == "service_role"


def test_fixed_keys_from_config_toml_with_env_references(tmp_path, monkeypatch):
    (tmp_path / "supabase").mkdir()
    (tmp_path / "supabase" / "config.toml").write_text(
        '[auth]\njwt_secret = "env(MY_SECRET)"\nservice_role_key = "env(MY_SERVICE_KEY)"\n'
        'secret_key = "sb_secret_from-config-toml-000000"\n')
    monkeypatch.setenv("MY_SECRET", CLI_SECRET)
    monkeypatch.setenv("MY_SERVICE_KEY", CLI_SERVICE_KEY)
    settings = load_settings(tmp_path, data_dir=tmp_path / "data")
    assert (settings.jwt_secret, settings.service_role_key) == (CLI_SECRET, CLI_SERVICE_KEY)
    assert settings.secret_key == "sb_secret_from-config-toml-000000"


@pytest.mark.parametrize("env, reason", [
    ({"LOCALBASE_ANON_KEY": CLI_ANON_KEY}, "does not verify"),  # signed with another secret
    ({"LOCALBASE_JWT_SECRET": CLI_SECRET, "LOCALBASE_ANON_KEY": CLI_SERVICE_KEY}, "carries role 'service_role'"),
    ({"LOCALBASE_SECRET_KEY": "not-an-sb-key"}, "must look like sb_secret_"),
    ({"LOCALBASE_JWT_SECRET": "short"}, "at least 32 characters"),
])
def test_a_fixed_key_the_services_would_refuse_stops_the_start(tmp_path, monkeypatch, env, reason):
    (tmp_path / "supabase").mkdir()
    monkeypatch.delenv("LOCALBASE_JWT_SECRET", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=reason):
        load_settings(tmp_path, data_dir=tmp_path / "data")
