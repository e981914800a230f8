"""`efficiency-hub up` starts the dashboard beside Localbase and the API, shows its URL in the
panel, and stops it with everything else on Ctrl+C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from localbase.testing.server import free_port
from tests.hub.cli.test_up import wait_for
from tests.hub.conftest import ROOT


def test_up_serves_the_dashboard_and_stops_it():
    data = tempfile.mkdtemp(prefix="hub-up-dashboard-")  # outside pytest's 0700 basetemp (PostgreSQL's user)
    port, api_port, board_port = free_port(), free_port(), free_port()
    log_path = Path(data) / "up.out"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "efficiency_hub.cli.main", "up", "--workdir", str(ROOT),
             "--data-dir", os.path.join(data, "lb"), "--port", str(port), "--api-port", str(api_port),
             "--dashboard-port", str(board_port), "--no-monitor"],
            stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "LOCALBASE_STUDIO_PORT": "0"})  # Studio: any port
        board = f"http://127.0.0.1:{board_port}"
        try:
            wait_for(lambda: "Efficiency Hub is up" in log_path.read_text() or proc.poll() is not None, 120, "up")
            output = log_path.read_text()
            assert proc.poll() is None, output
            assert re.search(rf"│ Dashboard +{board} ", output), output
            assert httpx.get(f"{board}/_stcore/health", timeout=5).text == "ok"
            page = httpx.get(board, timeout=5)
            assert page.status_code == 200 and "<title>Streamlit</title>" in page.text
            # the dashboard's own log, beside the others
            assert (Path(data) / "lb" / "logs" / "dashboard.log").is_file()
        finally:
            proc.send_signal(signal.SIGINT)
            code = proc.wait(60)
    output = log_path.read_text()
    assert code == 0, output
    assert "stopped." in output
    try:
        httpx.get(f"{board}/_stcore/health", timeout=1)
        raise AssertionError(f"{board} still answers after Ctrl+C")
    except httpx.ConnectError:
        pass
