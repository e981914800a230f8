"""`efficiency-hub up` reports ready only when each of its children serves, itself, on its port:
another process answering on that port is not taken for it. A child that fails is reported with
the cause from its log, and `up` exits 1; bad options are one clear line, before anything starts."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from efficiency_hub.cli.stack import Stack, StackError
from localbase.testing.server import free_port
from tests.hub.conftest import ROOT


class _Healthy(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, *args):
        return None


@pytest.fixture
def stranger():
    """Another program holding a port and answering 200 to anything (as a second hub would)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_child_is_not_mistaken_for_whatever_answers_on_its_port(stranger, tmp_path):
    stack = Stack(tmp_path)
    log = tmp_path / "api.log"
    log.write_text("ERROR: a line of an earlier run\n")
    # what uvicorn does when its port is taken: says so, then exits 3 (the stranger answers meanwhile)
    child = stack.spawn("api", [sys.executable, "-c", "import sys, time; time.sleep(1); print('ERROR:    [Errno 98] "
                                "error while attempting to bind on address: address already in use'); sys.exit(3)"],
                        {}, f"http://127.0.0.1:{stranger}", log)
    try:
        with pytest.raises(StackError) as failed:
            stack.wait_serving(child, stranger, "/health", timeout=30)
    finally:
        stack.stop()
    message = str(failed.value)
    assert message.startswith("api exited with 3: ERROR:    [Errno 98]") and "address already in use" in message
    assert "earlier run" not in message and str(log) in message


def test_a_child_serving_its_own_port_is_ready(tmp_path):
    stack = Stack(tmp_path)
    port = free_port()
    child = stack.spawn("files", [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], {},
                        f"http://127.0.0.1:{port}", tmp_path / "files.log")
    try:
        stack.wait_serving(child, port, "/", timeout=30)
        assert child.process.poll() is None
    finally:
        stack.stop()


def up(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="hub-up-fail-") as data:
        return subprocess.run([sys.executable, "-m", "efficiency_hub.cli.main", "up", "--workdir", str(ROOT),
                               "--data-dir", os.path.join(data, "lb"), "--no-dashboard", "--no-monitor", *args],
                              env={**os.environ, "NO_COLOR": "1", "COLUMNS": "60", "LOCALBASE_STUDIO_PORT": "0",
                                   **(env or {})},  # Studio: any free port
                              capture_output=True, text=True, timeout=180, check=False)


def one_line_error(result: subprocess.CompletedProcess, *expected: str) -> str:
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 1, output
    assert "Efficiency Hub is up" not in output and "Traceback" not in output
    [line] = [line for line in output.splitlines() if line.startswith("error:")]
    for part in expected:
        assert part in line, output
    return line


def test_a_port_held_by_another_server_is_refused_before_anything_starts(stranger):
    result = up("--port", str(free_port()), "--api-port", str(stranger))
    one_line_error(result, f"port {stranger}", "--api-port")


@pytest.mark.parametrize("args, expected", [
    (["--port", "99999"], ["--port", "1 to 65535", "99999"]),
    (["--api-port", "0"], ["--api-port", "1 to 65535"]),
    (["--workdir", "/nonexistent/hub"], ["/nonexistent/hub", "--workdir"]),
])
def test_bad_options_are_one_line(args, expected):
    one_line_error(up(*args), *expected)
    assert not Path("/nonexistent/hub").exists()


def test_a_failing_localbase_is_reported_with_its_cause():
    result = up("--port", str(free_port()), "--api-port", str(free_port()),
                env={"DATABASE_URL": "mysql://app:s3cret-pw@127.0.0.1/shop"})
    line = one_line_error(result, "localbase exited with 1", "DATABASE_URL must be a PostgreSQL URL", "localbase.log")
    assert "s3cret-pw" not in line
