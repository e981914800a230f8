"""Shared pieces of the benchmarks: a server on the bench project, wrk, results files."""

from __future__ import annotations

import json
import platform
import re
import shutil
import subprocess
import time
from pathlib import Path

from rich.console import Console

HERE = Path(__file__).parent
PROJECT = HERE / "project"
RESULTS = HERE / "results"
WRK_SCRIPTS = HERE / "wrk"
console = Console()


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    console.print("[yellow]installing wrk from Debian…[/yellow]")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk") or "wrk"


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def run_wrk(url: str, headers: dict[str, str], *, connections: int, seconds: float, threads: int = 2,
            script: str | None = None, script_args: list[str] | tuple[str, ...] = (), timeout: float | None = None
            ) -> dict:
    """wrk against `url`; with `script`, a Lua script (benchmarks/wrk/*.lua) given `script_args`.
    `ok_per_s`: answers with a 2xx/3xx status per second (wrk's requests/s counts every answer)."""
    cmd = [ensure_wrk(), f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    if timeout:
        cmd.append(f"--timeout={timeout:g}s")
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    if script:
        cmd += ["-s", str(WRK_SCRIPTS / script) if "/" not in script else script]
    cmd.append(url)
    if script_args:
        cmd += ["--", *script_args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for pct in ("50", "90", "99"):
        m = re.search(rf"\s{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)", out)
        lat[f"p{pct}_ms"] = float(m.group(1)) * _UNITS[m.group(2)] if m else None
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    bad = int(non2xx.group(1)) if non2xx else 0
    elapsed = float(done.group(2)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[done.group(3)]
    ok = int(done.group(1)) - bad
    return {"requests_per_s": rps, "ok_per_s": round(ok / elapsed, 2), "ok": ok, **lat,
            "non_2xx": bad, "socket_errors": errors.group(0) if errors else None}


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`; NaN for none."""
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))]


def save(name: str, result: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    result = {"benchmark": name, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()}, **result}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
