"""Every service's settings are checked when `localbase start` begins: a bad value stops it with one
line naming the file, the key and the allowed values, exit 1, before PostgreSQL is started."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from localbase.testing.server import free_port
from tests.localbase.cli.test_cli import ENV, lb
from tests.localbase.cli.test_start_errors import one_line_error


@pytest.fixture
def project():
    with tempfile.TemporaryDirectory(prefix="lb-settings-") as folder:
        lb("init", cwd=Path(folder))
        yield Path(folder)


@pytest.mark.parametrize(("header", "line", "expected"), [
    ("[auth]", 'password_requirements = "strong"',
     ["supabase/config.toml [auth] password_requirements", "letters_digits", "'strong'"]),
    ("[auth]", 'enable_anonymous_sign_ins = "maybe"',
     ["supabase/config.toml [auth] enable_anonymous_sign_ins", "true or false"]),
    ("[auth.email]", 'max_frequency = "soon"', ["supabase/config.toml [auth.email] max_frequency", "30s, 5m, 1h"]),
])
def test_a_bad_service_setting_stops_start(project, header, line, expected, monkeypatch):
    monkeypatch.setitem(ENV, "COLUMNS", "60")
    config = project / "supabase" / "config.toml"
    config.write_text(config.read_text().replace(f"\n{header}\n", f"\n{header}\n{line}\n", 1))
    one_line_error(lb("start", "--port", str(free_port()), cwd=project, check=False), *expected)
    assert not (project / ".localbase" / "pgdata").exists()  # refused before anything started
