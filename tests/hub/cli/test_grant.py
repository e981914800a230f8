"""`efficiency-hub grant EMAIL --clearance LEVEL`: an operator grants a self-registered citizen a
clearance with the service role, finding the account by the address Auth holds (not the citizen
row's copy, which its owner may edit)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from efficiency_hub.accounts import Accounts
from efficiency_hub.clients import user_client
from efficiency_hub.models import Clearance
from efficiency_hub.tracker import Tracker
from tests.hub.conftest import PASSWORD, new_citizen_id

NAMES = ("SUPABASE_URL", "SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY", "API_URL", "ANON_KEY", "SERVICE_ROLE_KEY",
         "LOCALBASE_DATA_DIR")


def grant(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    bare = {name: value for name, value in os.environ.items() if name not in NAMES}
    return subprocess.run([sys.executable, "-m", "efficiency_hub.cli.main", "grant", *args],
                          env={**bare, **env, "NO_COLOR": "1", "COLUMNS": "60"}, capture_output=True, text=True,
                          timeout=60, check=False)


async def register(settings, name: str):
    citizen_id = new_citizen_id()
    email = f"{citizen_id.lower()}-{uuid.uuid4().hex[:6]}@example.com"
    await Accounts(settings).register(email=email, password=PASSWORD, citizen_id=citizen_id, name=name)
    session = await Accounts(settings).sign_in(email, PASSWORD)
    return email, citizen_id, Tracker(await user_client(settings, session.access_token))


async def test_grant_raises_a_self_registered_citizen(hub_server, settings, service):
    email, citizen_id, me = await register(settings, "Gina Grant")
    # someone else copies Gina's address into their own citizen row (a column its owner may edit)
    _, impostor_id, impostor = await register(settings, "Ian Impostor")
    await impostor.client.table("citizens").update({"email": email.upper()}).eq("citizen_id", impostor_id).execute()
    assert (await me.me()).clearance_level is Clearance.infrared

    done = grant(email.upper(), "--clearance", "green", "--data-dir", str(hub_server.data_dir), env={})
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == f"granted green to {email.upper()} (citizen {citizen_id}, Gina Grant)"
    assert (await me.me()).clearance_level is Clearance.green
    assert (await impostor.me()).clearance_level is Clearance.infrared

    # the environment's backend and key (a real Supabase project) work the same way
    env = {"SUPABASE_URL": settings.supabase_url, "SUPABASE_ANON_KEY": settings.anon_key,
           "SUPABASE_SERVICE_ROLE_KEY": settings.service_role_key}
    assert grant(email, "--clearance", "ORANGE", env=env).returncode == 0
    assert (await me.me()).clearance_level is Clearance.orange


def test_grant_errors_are_one_line(hub_server, settings):
    env = {"SUPABASE_URL": settings.supabase_url, "SUPABASE_ANON_KEY": settings.anon_key,
           "SUPABASE_SERVICE_ROLE_KEY": settings.service_role_key}
    nobody = grant("nobody-here@example.com", "--clearance", "green", env=env)
    assert nobody.returncode == 1
    assert nobody.stdout.strip() == "error: no user with the email address nobody-here@example.com"
    no_key = grant("nobody-here@example.com", "--clearance", "green",
                   env={name: env[name] for name in ("SUPABASE_URL", "SUPABASE_ANON_KEY")})
    assert no_key.returncode == 1 and no_key.stdout.strip() == "error: this task needs SUPABASE_SERVICE_ROLE_KEY"
