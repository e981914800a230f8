"""`efficiency-hub demo` against a running Localbase: every step happens for real, and it can be
run again."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

from rich.console import Console

from efficiency_hub.cli.demo import PASSWORD, Demo


async def test_the_demo_shows_isolation_the_intervention_and_the_optimizer(settings):
    out = io.StringIO()
    results = await Demo(settings, Console(file=out, width=200, no_color=True)).run()
    assert results["api_analyst"] == 200 and results["api_intern"] == 403
    assert float(results["intervention"]["efficiency_delta"]) == 15
    assert results["optimization_score"] == 54  # (3600 / 1800 * 10 + 25) * 1.2
    seen = results["isolation"]
    assert seen["Ada Director"]["citizens"] == 2 and seen["Ben Analyst"]["citizens"] == 1
    assert seen["Cy Intern"] == {"citizens": 1, "events": 0, "metrics": "hidden"}
    assert seen["Ada Director"]["events"] == seen["Ben Analyst"]["events"] >= 3
    assert seen["service role"]["citizens"] >= 3
    text = out.getvalue()
    for step in ("1. Set up", "2. Register", "3. Live monitoring", "4. The authenticated API", "5. Isolation"):
        assert step in text
    # it ends with the accounts it made, to sign in with afterwards
    accounts = text[text.index("Demo accounts"):]
    assert results["accounts"] == {"director@efficiency-hub.demo": "violet", "analyst@efficiency-hub.demo": "green",
                                   "intern@efficiency-hub.demo": "infrared"}
    for email, clearance in results["accounts"].items():
        row = rf"{re.escape(email)} +│ {PASSWORD} +│ EFF-2025-00\d [A-Za-z ]+│ {clearance} "
        assert re.search(row, accounts), accounts


def test_the_command_runs_again_on_the_same_backend(hub_server, settings):
    """Once configured by the environment, once by finding the running Localbase by its data folder."""
    bare = {name: value for name, value in os.environ.items()
            if name not in ("SUPABASE_URL", "SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY", "API_URL", "ANON_KEY",
                            "SERVICE_ROLE_KEY", "LOCALBASE_DATA_DIR")}
    by_env = {"SUPABASE_URL": settings.supabase_url, "SUPABASE_ANON_KEY": settings.anon_key,
              "SUPABASE_SERVICE_ROLE_KEY": settings.service_role_key}
    for args, env in (([], by_env), (["--data-dir", str(hub_server.data_dir)], {})):
        done = subprocess.run([sys.executable, "-m", "efficiency_hub.cli.main", "demo", *args],
                              env={**bare, **env, "NO_COLOR": "1", "COLUMNS": "200"},
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    assert "exists already" in done.stdout and "What each caller sees" in done.stdout
    assert f"backend {settings.supabase_url}" in done.stdout  # the running one, not a temporary Localbase


def test_a_data_dir_where_nothing_runs_is_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "efficiency_hub.cli.main", "demo", "--data-dir", str(tmp_path)],
                          env={**os.environ, "NO_COLOR": "1", "COLUMNS": "60"}, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 1
    assert done.stdout.strip().splitlines() == [
        f"error: no Localbase is running with the data folder {tmp_path}: start it with "
        f"`efficiency-hub up --data-dir {tmp_path}`"]
