"""Start-up and idle memory: cold start (empty data folder) and warm start to the first 200 from
/rest/v1/, then the resident memory of the server and all its PostgreSQL processes when idle.

    python benchmarks/startup.py [--runs 3]
Targets: cold < 5 s, warm < 2 s, idle RSS < 300 MB. Writes benchmarks/results/startup.json."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from common import PROJECT, console, save  # noqa: E402

from localbase.testing.server import LocalbaseProcess  # noqa: E402


def time_to_first_200(server: LocalbaseProcess) -> float:
    started = time.perf_counter()
    server.process = None
    import os
    import subprocess
    cmd = [sys.executable, "-m", "localbase", "start", "--workdir", str(server.project_dir), "--data-dir",
           str(server.data_dir), "--port", str(server.port), "--db-port", str(server.db_port)]
    server._log = server.log_path.open("ab")
    server.process = subprocess.Popen(cmd, stdout=server._log, stderr=subprocess.STDOUT,
                                      env={**os.environ, "NO_COLOR": "1"})
    while True:
        try:
            r = httpx.get(f"{server.url}/rest/v1/", headers={"apikey": _anon(server)}, timeout=1)
            if r.status_code == 200:
                return time.perf_counter() - started
        except (httpx.HTTPError, FileNotFoundError, KeyError):
            pass
        if server.process.poll() is not None:
            raise RuntimeError(server.output())
        if time.perf_counter() - started > 60:
            raise TimeoutError(server.output())
        time.sleep(0.005)


def _anon(server: LocalbaseProcess) -> str:
    return server.anon_key


def idle_rss_mb(server: LocalbaseProcess) -> float:
    """Proportional set size (PSS) summed over the server and its PostgreSQL processes: shared memory
    is counted once, not once per backend (plain RSS would count shared buffers N times)."""
    root = psutil.Process(server.process.pid)
    procs = [root, *root.children(recursive=True)]
    total = 0
    for p in procs:
        try:
            total += p.memory_full_info().pss
        except (psutil.AccessDenied, AttributeError):
            total += p.memory_info().rss
    return total / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    cold, warm, rss = [], [], []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="lb-start-") as tmp:
            server = LocalbaseProcess(PROJECT, Path(tmp) / "data")
            with console.status(f"run {i + 1}/{args.runs}: cold start…"):
                cold.append(time_to_first_200(server))
                server.stop()
            with console.status(f"run {i + 1}/{args.runs}: warm start…"):
                warm.append(time_to_first_200(server))
            time.sleep(3)  # idle
            rss.append(idle_rss_mb(server))
            server.stop()
    result = {"cold_start_s": statistics.median(cold), "warm_start_s": statistics.median(warm),
              "idle_rss_mb": statistics.median(rss), "runs": {"cold": cold, "warm": warm, "rss_mb": rss}}
    console.print(f"cold start [bold]{result['cold_start_s']:.2f}s[/bold] (target < 5 s), warm start "
                  f"[bold]{result['warm_start_s']:.2f}s[/bold] (target < 2 s), idle RSS server + PostgreSQL "
                  f"[bold]{result['idle_rss_mb']:.0f} MB[/bold] (target < 300 MB) — median of {args.runs}")
    console.print(f"[dim]written {save('startup', result)}[/dim]")


if __name__ == "__main__":
    main()
