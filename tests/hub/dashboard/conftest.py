"""The dashboard under test reads the same environment it reads in production (SUPABASE_URL,
SUPABASE_ANON_KEY and, for an operator, SUPABASE_SERVICE_ROLE_KEY) and talks to the real Localbase
of tests/hub (hub_server)."""

from __future__ import annotations

import pytest

from efficiency_hub.dashboard import APP

_NAMES = ("SUPABASE_URL", "SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY", "API_URL", "ANON_KEY",
          "SERVICE_ROLE_KEY")


@pytest.fixture
def dashboard_env(settings, monkeypatch):
    """Sets the environment the dashboard reads; `operator=True` adds the service-role key."""

    def configure(*, operator: bool = False) -> dict[str, str]:
        for name in _NAMES:
            monkeypatch.delenv(name, raising=False)
        env = {"SUPABASE_URL": settings.supabase_url, "SUPABASE_ANON_KEY": settings.anon_key}
        if operator:
            env["SUPABASE_SERVICE_ROLE_KEY"] = settings.service_role_key
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return env

    configure()
    return configure


@pytest.fixture
def app_path():
    return APP
