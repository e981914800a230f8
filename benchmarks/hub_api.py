"""Hub API benchmark: what the FastAPI layer costs over the REST call it makes.

Side by side, on this machine, one run of several interleaved rounds (the order of the sides turns
each round):
  rest  GET /rest/v1/citizens?citizen_id=eq.X straight to Localbase with a user's JWT (RLS applies)
  api   GET /citizens/X on the hub API (uvicorn, 1 worker): bearer check, the process's supabase
        client acting as the caller, the same REST call, pydantic validation, JSON out
  data  GET /protected/efficiency-data on the hub API (5 REST calls + 1 RPC behind it)
Prints requests/s, p50/p99 and CPU per answer (the hub's process; Localbase's) per round, the
medians, and the api/rest ratio (per round and its median); writes benchmarks/results/hub_api.json.

    python benchmarks/hub_api.py [--seconds 5] [--connections 16] [--rounds 3] [--start-timeout 300]
                                 [--access-log]

The API runs exactly as `efficiency-hub up` runs it (uvicorn, one process, uvloop and httptools,
no access log); `--access-log` as `efficiency-hub up --access-log` does (a line per request into the
API's log file).

Both servers count as started when they serve (Localbase: its state file and /health; the hub API:
its own process listens on its port and answers /health, then an authenticated read answers 200);
one that does not within --start-timeout stops the run with its name and the cause from its log.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import httpx
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from common import console, run_wrk, save  # noqa: E402
from cpu import descendants, snapshot, used  # noqa: E402

from efficiency_hub.cli.stack import Child, Stack, StackError, api_argv  # noqa: E402
from localbase.testing.server import LocalbaseProcess, free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EMAIL, PASSWORD, CITIZEN = "bench@example.com", "Bench-passw0rd", "EFF-2025-900"
SIDES = ("rest", "api", "data")


def start_localbase(timeout: float) -> LocalbaseProcess:
    lb = LocalbaseProcess(ROOT, env={f"LOCALBASE_AUTH_RATE_LIMIT_{n}": "0" for n in
                                     ("SIGN_IN_SIGN_UPS", "SIGN_IN_SIGN_UPS_PER_EMAIL")})
    try:
        return lb.start(timeout)
    except (TimeoutError, RuntimeError) as exc:
        lb.cleanup()
        raise SystemExit(f"Localbase (on the hub's project, {lb.url}) did not come up within {timeout:.0f}s: "
                         f"{exc}") from None


def start_api(stack: Stack, lb: LocalbaseProcess, log: Path, timeout: float, access_log: bool) -> Child:
    """The hub API exactly as `efficiency-hub up` runs it (stack.api_argv), `--access-log` or not."""
    port = free_port()
    argv = api_argv("127.0.0.1", port, access_log=access_log)
    child = stack.spawn("the hub API", argv, {"SUPABASE_URL": lb.url, "SUPABASE_ANON_KEY": lb.anon_key},
                        f"http://127.0.0.1:{port}", log)
    try:
        stack.wait_serving(child, port, "/health", timeout=timeout)
    except StackError as exc:
        raise SystemExit(str(exc)) from None
    return child


def sign_in(lb: LocalbaseProcess) -> str:
    headers = {"apikey": lb.service_role_key, "Authorization": f"Bearer {lb.service_role_key}"}
    httpx.post(f"{lb.url}/auth/v1/admin/users", headers=headers, json={
        "email": EMAIL, "password": PASSWORD, "email_confirm": True,
        "user_metadata": {"citizen_id": CITIZEN, "name": "Bench"},
        "app_metadata": {"clearance_level": "green"}}, timeout=60).raise_for_status()
    answer = httpx.post(f"{lb.url}/auth/v1/token?grant_type=password", headers={"apikey": lb.anon_key},
                        json={"email": EMAIL, "password": PASSWORD}, timeout=60)
    answer.raise_for_status()
    return answer.json()["access_token"]


def measure(url: str, headers: dict[str, str], *, hub_pid: int, lb_pid: int, connections: int,
            seconds: float) -> dict:
    """wrk on `url`, with the CPU the hub's process and Localbase's processes spent per answer."""
    hub_before, lb_pids = snapshot([hub_pid]), descendants(lb_pid)
    lb_before = snapshot(lb_pids)
    result = run_wrk(url, headers, connections=connections, seconds=seconds, timeout=10)
    answers = max(1, result["ok"])
    result["hub_cpu_ms"] = round(used(hub_before, snapshot([hub_pid])) * 1000 / answers, 3)
    result["localbase_cpu_ms"] = round(used(lb_before, snapshot(lb_pids)) * 1000 / answers, 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--start-timeout", type=float, default=300,
                        help="seconds each server may take to serve (a loaded machine needs minutes)")
    parser.add_argument("--access-log", action="store_true",
                        help="the API logs each request, as under `efficiency-hub up --access-log`")
    args = parser.parse_args()

    rounds: list[dict[str, dict]] = []
    with console.status(f"starting Localbase (up to {args.start_timeout:.0f}s)"):
        lb = start_localbase(args.start_timeout)
    stack = Stack(ROOT)
    logs = tempfile.TemporaryDirectory(prefix="hub-api-bench-")
    try:
        token = sign_in(lb)
        with console.status(f"starting the hub API (up to {args.start_timeout:.0f}s)"):
            api = start_api(stack, lb, Path(logs.name) / "api.log", args.start_timeout, args.access_log)
        user = {"Authorization": f"Bearer {token}"}
        runs = {
            "rest": (f"{lb.url}/rest/v1/citizens?select=*&citizen_id=eq.{CITIZEN}", {**user, "apikey": lb.anon_key}),
            "api": (f"{api.url}/citizens/{CITIZEN}", user),
            "data": (f"{api.url}/protected/efficiency-data", user),
        }
        for name, (url, hdrs) in runs.items():  # every side answers as the user before it is timed
            answer = httpx.get(url, headers=hdrs, timeout=60)
            if answer.status_code != 200:
                raise SystemExit(f"{name}: {url} answered {answer.status_code}: {answer.text[:300]}")
        assert lb.process is not None
        for number in range(args.rounds):
            order = SIDES if number % 2 == 0 else tuple(reversed(SIDES))
            results: dict[str, dict] = {}
            for name in order:
                url, hdrs = runs[name]
                with console.status(f"round {number + 1}/{args.rounds}: {name}, {args.connections} connections, "
                                    f"{args.seconds:g}s"):
                    results[name] = measure(url, hdrs, hub_pid=api.process.pid, lb_pid=lb.process.pid,
                                            connections=args.connections, seconds=args.seconds)
            results["ratio"] = {"api_over_rest": results["api"]["requests_per_s"] / results["rest"]["requests_per_s"]}
            rounds.append(results)
            r = results
            console.print(f"round {number + 1}: rest {r['rest']['requests_per_s']:,.0f}/s, "
                          f"api {r['api']['requests_per_s']:,.0f}/s, data {r['data']['requests_per_s']:,.0f}/s, "
                          f"api/rest {r['ratio']['api_over_rest']:.2f}")
    finally:
        stack.stop()
        lb.cleanup()
        logs.cleanup()

    def median(side: str, key: str) -> float:
        return statistics.median(r[side][key] for r in rounds)

    ratio = statistics.median(r["ratio"]["api_over_rest"] for r in rounds)
    table = Table(title=f"hub API vs direct REST: medians of {args.rounds} rounds ({args.connections} connections, "
                        f"{args.seconds:g}s each, {os.cpu_count()} cores)")
    for col in ("run", "req/s", "p50 ms", "p99 ms", "hub CPU ms/answer", "Localbase CPU ms/answer", "non-2xx"):
        table.add_column(col, justify="right" if col != "run" else "left")
    for name in SIDES:
        table.add_row(name, f"{median(name, 'requests_per_s'):,.0f}", f"{median(name, 'p50_ms'):.1f}",
                      f"{median(name, 'p99_ms'):.1f}", f"{median(name, 'hub_cpu_ms'):.3f}",
                      f"{median(name, 'localbase_cpu_ms'):.3f}", str(sum(r[name]["non_2xx"] for r in rounds)))
    console.print(table)
    per_round = ", ".join(f"{r['ratio']['api_over_rest']:.2f}" for r in rounds)
    console.print(f"api/rest ratio: [bold]{ratio:.2f}[/] (median; rounds: {per_round})")
    path = save("hub_api", {
        "connections": args.connections, "seconds": args.seconds, "access_log": args.access_log, "rounds": rounds,
        "medians": {name: {key: median(name, key) for key in
                           ("requests_per_s", "p50_ms", "p99_ms", "hub_cpu_ms", "localbase_cpu_ms")} for name in SIDES},
        "api_over_rest": round(ratio, 3)})
    console.print(f"saved {path}")


if __name__ == "__main__":
    main()
