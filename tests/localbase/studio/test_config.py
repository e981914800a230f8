"""Studio's settings (unit): defaults, config and environment, what is refused."""

from __future__ import annotations

import pytest

from localbase.settings import SettingsError, load_settings
from localbase.studio.config import StudioSettings, StudioSettingsError, hash_password, verify_password


def test_defaults_are_loopback_on_54323():
    s = StudioSettings.load({}, {})
    assert (s.enabled, s.host, s.port, s.loopback, s.login_required) == (True, "127.0.0.1", 54323, True, False)
    s.check()
    assert s.url(41000) == "http://127.0.0.1:41000"


def test_config_environment_and_flags_in_that_order():
    section = {"enabled": True, "port": 6000, "host": "127.0.0.2", "allowed_hosts": ["Studio.Example"]}
    s = StudioSettings.load(section, {"LOCALBASE_STUDIO_PORT": "6001"})
    assert (s.port, s.host, s.allowed_hosts) == (6001, "127.0.0.2", ("studio.example",))
    assert StudioSettings.load(section, {"LOCALBASE_STUDIO_PORT": "6001"}, port=6002).port == 6002
    assert not StudioSettings.load(section, {"LOCALBASE_STUDIO": "off"}).enabled
    assert StudioSettings.load({"enabled": False}, {}, enabled=True).enabled


def test_a_network_address_needs_a_password():
    with pytest.raises(StudioSettingsError, match="without a password"):
        StudioSettings.load({}, {}, host="0.0.0.0").check()
    hashed = hash_password("a long enough password")
    s = StudioSettings.load({"password_hash": hashed}, {}, host="0.0.0.0")
    s.check()
    assert not s.loopback and s.login_required
    assert verify_password("a long enough password", hashed) and not verify_password("wrong", hashed)
    StudioSettings.load({}, {}, host="0.0.0.0", enabled=False).check()  # disabled: nothing to refuse


@pytest.mark.parametrize(("section", "env", "says"), [
    ({"port": "many"}, {}, "must be an integer"),
    ({"port": 70000}, {}, "0-65535"),
    ({"password_hash": "plain-password"}, {}, "bcrypt hash"),
    ({"allowed_hosts": "one"}, {}, "list of host names"),
    ({"ssl_certfile": "cert.pem"}, {}, "go together"),
    ({}, {"LOCALBASE_STUDIO": "maybe"}, "true or false"),
])
def test_bad_settings_are_refused(section, env, says):
    with pytest.raises(StudioSettingsError, match=says):
        StudioSettings.load(section, env)


def test_load_settings_says_which_setting(tmp_path, monkeypatch):
    (tmp_path / "supabase").mkdir()
    (tmp_path / "supabase" / "config.toml").write_text("[studio]\nport = 54399\n")
    assert load_settings(tmp_path, with_keys=False).studio.port == 54399
    assert load_settings(tmp_path, with_keys=False, studio_port=0).studio.port == 0
    monkeypatch.setenv("LOCALBASE_STUDIO_PASSWORD_HASH", "nope")
    with pytest.raises(SettingsError, match="bcrypt"):
        load_settings(tmp_path, with_keys=False)


def test_short_passwords_are_refused():
    with pytest.raises(ValueError, match="at least 8"):
        hash_password("short")


def test_the_hash_password_command():
    import subprocess
    import sys

    def run(password: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "localbase", "studio", "hash-password", "--stdin"],
                              input=password + "\n", capture_output=True, text=True, timeout=60, check=False)

    made = run("a long enough password")
    assert made.returncode == 0 and verify_password("a long enough password", made.stdout.strip())
    assert "a long enough password" not in made.stdout + made.stderr
    refused = run("short")
    assert refused.returncode == 2 and "at least 8" in refused.stderr
