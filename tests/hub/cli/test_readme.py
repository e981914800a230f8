"""The README's walk-through, run as written: its own shell and Python blocks, taken from README.md
(so the README stays true), against `efficiency-hub up` - export the running Localbase's keys,
run the Python snippet twice (register, then sign in again), then register, grant, log in, keep the
token and read the protected data with curl, twice."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from localbase.testing.server import free_port
from tests.hub.cli.test_up import wait_for
from tests.hub.conftest import ROOT

README = (ROOT / "README.md").read_text()
HUB_NAMES = ("SUPABASE_URL", "SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY", "API_URL", "ANON_KEY",
             "SERVICE_ROLE_KEY", "LOCALBASE_DATA_DIR")


def block(language: str, containing: str) -> str:
    """The one README block in `language` that starts with or holds `containing`."""
    blocks = re.findall(rf"```{language}\n(.*?)```", README, re.S)
    [found] = [text for text in blocks if text.startswith(containing)] or \
        [text for text in blocks if containing in text]
    return found


@pytest.fixture(scope="module")
def stack():
    """`efficiency-hub up` on ports of its own; the README's commands reach it as on the defaults."""
    data = Path(tempfile.mkdtemp(prefix="hub-readme-")) / "lb"
    api_port = free_port()
    out = data.parent / "up.out"
    with out.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "efficiency_hub.cli.main", "up", "--workdir", str(ROOT),
                                 "--data-dir", str(data), "--port", str(free_port()), "--db-port", str(free_port()),
                                 "--api-port", str(api_port), "--no-dashboard", "--no-monitor"],
                                stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "NO_COLOR": "1", "LOCALBASE_STUDIO_PORT": "0"})  # Studio: any port
    try:
        wait_for(lambda: "Efficiency Hub is up" in out.read_text() or proc.poll() is not None, 120, "up")
        assert proc.poll() is None, out.read_text()
        yield data, api_port
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
        shutil.rmtree(data.parent, ignore_errors=True)


def run(script: str, stack) -> str:
    """A README block in bash, from the checkout, as a user's shell would run it (the API's port
    and the data folder are this test's)."""
    data, api_port = stack
    env = {name: value for name, value in os.environ.items() if name not in HUB_NAMES}
    env.update(LOCALBASE_DATA_DIR=str(data), NO_COLOR="1", PATH=f"{Path(sys.executable).parent}:{env['PATH']}")
    script = script.replace("localhost:8000", f"127.0.0.1:{api_port}")
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{script}\n---\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_readme_walk_through_runs_as_written_twice(stack, tmp_path):
    export = block("bash", 'eval "$(localbase status -o shell)"')
    snippet = tmp_path / "ada.py"
    snippet.write_text(block("python", "asyncio.run(main())"))
    first = run(f"{export}\npython {snippet}", stack)
    again = run(f"{export}\npython {snippet}", stack)
    # a new citizen starts at 75; each run records a task_completed event (+5)
    assert first.splitlines()[0].startswith("80.0 events_recent=1 ")
    assert again.splitlines()[0] == "Ada is registered already: signing in"
    assert again.splitlines()[1].startswith("85.0 events_recent=2 ")

    walk_through = block("bash", "/protected/efficiency-data")
    for _ in range(2):
        lines = run(walk_through, stack).strip().splitlines()
        assert json.loads(lines[0])["code"] == "citizen_id_taken"  # step 2 registered Ada
        assert lines[1] == "granted green to ada@example.com (citizen EFF-2025-101, Ada)"
        data = json.loads(lines[-1])
        assert (data["citizen_id"], data["clearance_level"]) == ("EFF-2025-101", "green")
        assert [event["event_type"] for event in data["recent_events"]] == ["task_completed"] * 2
