"""Deno processes live and die with the server: stopped on SIGTERM, killed by the kernel when the
server is killed (kill -9), restarted when they exit, bounded in boot time and per-request time (a
server of its own, with short limits in supabase/localbase.toml)."""

from __future__ import annotations

import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from localbase.testing.server import LocalbaseProcess

FUNCTIONS = {
    "pid": "Deno.serve(() => Response.json({ pid: Deno.pid }));\n",
    "exits": "Deno.serve((req) => new URL(req.url).searchParams.has('exit') ? Deno.exit(3) "
             ": Response.json({ pid: Deno.pid }));\n",
    "slow": "Deno.serve(async () => { await new Promise((r) => setTimeout(r, 5000)); "
            "return new Response('late'); });\n",
    "slow-boot": "await new Promise((r) => setTimeout(r, 5000));\nDeno.serve(() => new Response('booted'));\n",
    "stream": ("Deno.serve(() => new Response(new ReadableStream({ async start(c) {\n"
               "  for (let i = 0; i < 3; i++) { c.enqueue(new TextEncoder().encode(`data: ${i}\\n\\n`));\n"
               "    await new Promise((r) => setTimeout(r, 50)); }\n  c.close(); } }),\n"
               "  { headers: { 'content-type': 'text/event-stream' } }));\n"),
}
LIMITS = "[edge_runtime]\nrequest_timeout_seconds = 1\nboot_timeout_seconds = 2\n"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def project():
    with tempfile.TemporaryDirectory(prefix="lb-deno-") as folder:
        root = Path(folder)
        (root / "supabase" / "migrations").mkdir(parents=True)
        (root / "supabase" / "localbase.toml").write_text(LIMITS)
        (root / "supabase" / "config.toml").write_text(
            "".join(f'[functions.{name}]\nverify_jwt = false\n' for name in FUNCTIONS))
        for name, code in FUNCTIONS.items():
            (root / "supabase" / "functions" / name).mkdir(parents=True)
            (root / "supabase" / "functions" / name / "index.ts").write_text(code)
        yield root


def _function_pid(server: LocalbaseProcess) -> int:
    r = httpx.get(f"{server.url}/functions/v1/pid", timeout=30)
    assert r.status_code == 200, r.text
    pid = r.json()["pid"]
    assert _alive(pid)
    return pid


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_limits_then_processes_end_with_the_server(project):
    server = LocalbaseProcess(project)
    server.start()
    try:
        url = f"{server.url}/functions/v1"
        with ThreadPoolExecutor(8) as pool:  # concurrent first calls share one starting process
            answers = list(pool.map(lambda _: httpx.get(f"{url}/pid", timeout=30), range(8)))
        assert len({r.json()["pid"] for r in answers}) == 1
        started = time.monotonic()
        r = httpx.get(f"{url}/slow", timeout=30)
        assert r.status_code == 546 and r.json()["code"] == "WORKER_LIMIT"
        assert r.headers["x-relay-error"] == "true" and time.monotonic() - started < 4
        r = httpx.get(f"{url}/slow-boot", timeout=30)
        assert r.status_code == 503 and r.json()["code"] == "BOOT_ERROR"
        assert "did not listen within 2s" in server.log_path.read_text()
        with httpx.stream("GET", f"{url}/stream", timeout=30) as r:
            assert r.headers["content-type"] == "text/event-stream"
            assert "".join(r.iter_text()) == "data: 0\n\ndata: 1\n\ndata: 2\n\n"

        first = httpx.get(f"{url}/exits", timeout=30).json()["pid"]
        r = httpx.get(f"{url}/exits?exit", timeout=30)  # the process dies while answering
        assert r.status_code == 500 and r.json()["code"] == "WORKER_ERROR"
        assert _wait_gone(first)
        assert httpx.get(f"{url}/exits", timeout=30).json()["pid"] != first  # a new process
        assert "function exits exited with code 3" in server.log_path.read_text()

        pid = _function_pid(server)
        server.process.send_signal(signal.SIGTERM)  # a clean stop stops the processes
        assert server.process.wait(30) == 0
        assert _wait_gone(pid)

        server.start()  # same data folder; now the server dies without a word
        pid = _function_pid(server)
        server.process.kill()
        server.process.wait(30)
        assert _wait_gone(pid), "the deno process outlived a killed server"
    finally:
        server.cleanup()
