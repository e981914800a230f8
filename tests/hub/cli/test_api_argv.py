"""How `efficiency-hub up` runs the hub API: uvicorn on the app factory, without uvicorn's line per
request unless asked (`up --access-log`)."""

from __future__ import annotations

from typer.testing import CliRunner

from efficiency_hub.cli.main import app
from efficiency_hub.cli.stack import api_argv


def test_the_api_logs_each_request_only_when_asked():
    quiet, logged = api_argv("127.0.0.1", 8123), api_argv("127.0.0.1", 8123, access_log=True)
    for argv in (quiet, logged):
        assert argv[1:5] == ["-m", "uvicorn", "efficiency_hub.api:create_app", "--factory"]
        assert argv[argv.index("--port") + 1] == "8123"
    assert "--no-access-log" in quiet and "--no-access-log" not in logged
    assert "--access-log" in CliRunner().invoke(app, ["up", "--help"]).output
