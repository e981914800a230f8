"""Studio with `--workers 2`: served once (by worker 0, on the socket the supervisor bound and
announced), its Logs page showing every worker's requests."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import httpx

from localbase.testing.server import LocalbaseProcess
from tests.localbase.studio.conftest import PROJECT, unique


def test_studio_once_with_every_workers_logs():
    with LocalbaseProcess(PROJECT, extra_args=["--workers", "2"]) as server:
        state = json.loads((server.data_dir / "server.json").read_text())
        assert state["studio_url"] == server.studio_url
        status = subprocess.run([sys.executable, "-m", "localbase", "status", "-o", "json", "--workdir", str(PROJECT),
                                 "--data-dir", str(server.data_dir)], capture_output=True, text=True, check=True)
        assert json.loads(status.stdout)["STUDIO_URL"] == server.studio_url
        assert re.search(rf"STUDIO_URL +{re.escape(server.studio_url)}\b", server.output())  # what `start` printed
        tag = unique("w")
        for i in range(30):  # separate connections: the kernel hands them to either worker
            httpx.get(f"{server.url}/rest/v1/{tag}_{i}", headers={"apikey": server.anon_key})
        deadline = time.monotonic() + 15
        while True:
            page = httpx.get(f"{server.studio_url}/logs?kind=request&q={tag}").text
            seen = {i for i in range(30) if f"/rest/v1/{tag}_{i}<" in page or f"/rest/v1/{tag}_{i} " in page}
            if len(seen) == 30 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert len(seen) == 30, sorted(set(range(30)) - seen)  # whichever worker served each
