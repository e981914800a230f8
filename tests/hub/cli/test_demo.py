"""`efficiency-hub demo` against a running Localbase: every step happens for real, and it can be
run again."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from rich.console import Console

from efficiency_hub.cli.demo import Demo


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


def test_the_command_runs_again_on_the_same_backend(hub_server, settings):
    env = {**os.environ, "SUPABASE_URL": settings.supabase_url, "SUPABASE_ANON_KEY": settings.anon_key,
           "SUPABASE_SERVICE_ROLE_KEY": settings.service_role_key, "NO_COLOR": "1", "COLUMNS": "200"}
    for _ in range(2):
        done = subprocess.run([sys.executable, "-m", "efficiency_hub.cli.main", "demo"], env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    assert "exists already" in done.stdout and "What each caller sees" in done.stdout
