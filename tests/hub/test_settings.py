"""Where the hub finds its backend."""

import pytest

from efficiency_hub.settings import HubSettings, MissingSettings


def test_supabase_names_win_over_status_names():
    env = {"SUPABASE_URL": "https://x.supabase.co/", "SUPABASE_ANON_KEY": "a", "API_URL": "http://other",
           "ANON_KEY": "b", "SERVICE_ROLE_KEY": "s"}
    assert HubSettings.from_env(env) == HubSettings("https://x.supabase.co", "a", "s")


def test_the_names_status_prints_are_enough():
    assert HubSettings.from_env({"API_URL": "http://127.0.0.1:54321", "ANON_KEY": "a"}) == \
        HubSettings("http://127.0.0.1:54321", "a", None)


def test_missing_settings_say_what_to_set():
    with pytest.raises(MissingSettings, match="SUPABASE_URL and SUPABASE_ANON_KEY"):
        HubSettings.from_env({})
    with pytest.raises(MissingSettings, match="SUPABASE_SERVICE_ROLE_KEY"):
        HubSettings("http://x", "a").require_service_role()
