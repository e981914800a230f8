"""`efficiency-hub up`: Localbase on the hub's project, the API and the monitor; a bad event sent
through the API is answered by the monitor; Ctrl+C stops everything and exits 0, also when `up`
was started in the background (SIGINT inherited ignored)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from localbase.testing.server import free_port
from tests.hub.conftest import ROOT


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (value := predicate()):
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def own_broker():
    from localbase.testing.kafka import TansuBroker
    broker = TansuBroker().start()
    yield broker
    broker.cleanup()


def ignore_sigint() -> None:  # what a non-interactive shell does to a job it starts with `&`
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("workers,kafka", [(1, False), (2, False), (1, True)])
def test_up_serves_the_stack_and_stops_cleanly(workers, kafka, request):
    """With --kafka, the events reach the monitor through the Kafka bridge (a consumer group)."""
    import tempfile
    data = tempfile.mkdtemp(prefix="hub-up-")  # outside pytest's 0700 basetemp (PostgreSQL's user)
    port, db_port, api_port, studio_port = free_port(), free_port(), free_port(), free_port()
    log_path = Path(data) / "up.out"
    log = log_path.open("w")  # the child writes it; closed below
    proc = subprocess.Popen([sys.executable, "-m", "efficiency_hub.cli.main", "up", "--workdir", str(ROOT),
                             "--data-dir", os.path.join(data, "lb"), "--port", str(port), "--api-port", str(api_port),
                             "--db-port", str(db_port), "--workers", str(workers), "--studio-port", str(studio_port),
                             *(["--kafka", request.getfixturevalue("own_broker").bootstrap] if kafka else []),
                             "--no-dashboard"],  # the dashboard has a test of its own (tests/hub/dashboard)
                            stdout=log, stderr=subprocess.STDOUT, preexec_fn=ignore_sigint,
                            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "80"})
    try:
        wait_for(lambda: "Efficiency Hub is up" in log_path.read_text() or proc.poll() is not None, 120, "up")
        output = log_path.read_text()
        assert proc.poll() is None, output
        api = f"http://127.0.0.1:{api_port}"
        assert re.search(rf"│ Hub API +{api} ", output), output
        assert re.search(rf"│ Studio +http://127.0.0.1:{studio_port} ", output), output
        assert httpx.get(f"http://127.0.0.1:{studio_port}/tables").status_code == 200
        state = json.loads(Path(data, "lb", "server.json").read_text())
        assert state["db_port"] == db_port
        # the keys: whole, each on a line of its own outside the panel, to be copied (80 columns here)
        keys = json.loads(Path(data, "lb", "keys.json").read_text())
        lines = output.splitlines()
        assert f"ANON_KEY={keys['anon_key']}" in lines and f"SERVICE_ROLE_KEY={keys['service_role_key']}" in lines
        source = "efficiency.events on 127.0.0.1" if kafka else "efficiency_events"
        wait_for(lambda: f"monitoring {source}" in log_path.read_text(), 30, "the monitor")

        email = f"up-{uuid.uuid4().hex[:8]}@example.com"
        citizen_id = f"EFF-2031-{uuid.uuid4().int % 10**6:06d}"
        reg = httpx.post(f"{api}/auth/register", json={"email": email, "password": "Str0ng-Passw0rd",
                                                        "citizen_id": citizen_id, "name": "Up Test"})
        assert reg.status_code == 201, reg.text
        token = reg.json()["session"]["access_token"]
        sent = httpx.post(f"{api}/events", json={"event_type": "missed_deadline", "efficiency_delta": -30},
                          headers={"Authorization": f"Bearer {token}"})
        assert sent.status_code == 201, sent.text

        def answered():
            events = httpx.get(f"{api}/citizens/{citizen_id}/events", headers={"Authorization": f"Bearer {token}"})
            return [e for e in events.json() if e["event_type"] == "automated_intervention"]
        [intervention] = wait_for(answered, 15, "the monitor's intervention")
        assert intervention["triggered_by"] == sent.json()["id"] and intervention["score_after"] == 60
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:  # SIGINT was ignored: stop it anyway, then fail
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
            code = None
    log.close()
    output = log_path.read_text()
    assert code == 0, output
    assert "stopped." in output
    for url in (f"http://127.0.0.1:{port}/health", f"http://127.0.0.1:{api_port}/health"):
        try:
            httpx.get(url, timeout=1)
            raise AssertionError(f"{url} still answers")
        except httpx.ConnectError:
            pass
