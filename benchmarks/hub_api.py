"""Hub API benchmark: what the FastAPI layer costs over the REST call it makes.

Side by side, on this machine, one run:
  rest  GET /rest/v1/citizens?citizen_id=eq.X straight to Localbase with a user's JWT (RLS applies)
  api   GET /citizens/X on the hub API (uvicorn, 1 worker): bearer check, a supabase client
        carrying the user's JWT, the same REST call, pydantic validation, JSON out
  data  GET /protected/efficiency-data on the hub API (5 REST calls + 1 RPC behind it)
Prints requests/s, p50/p99 and the api/rest ratio; writes benchmarks/results/hub_api.json.

    python benchmarks/hub_api.py [--seconds 8] [--connections 16]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from common import console, run_wrk, save

from localbase.testing.server import LocalbaseProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
EMAIL, PASSWORD, CITIZEN = "bench@example.com", "Bench-passw0rd", "EFF-2025-900"


def start_api(url: str, anon: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "SUPABASE_URL": url, "SUPABASE_ANON_KEY": anon}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "efficiency_hub.api:create_app", "--factory",
                             "--port", str(port), "--log-level", "warning", "--no-access-log"], env=env)
    api = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{api}/health").status_code == 200:
                return proc, api
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the API did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    with LocalbaseProcess(ROOT, env={f"LOCALBASE_AUTH_RATE_LIMIT_{n}": "0" for n in
                                     ("SIGN_IN_SIGN_UPS", "SIGN_IN_SIGN_UPS_PER_EMAIL")}) as lb:
        headers = {"apikey": lb.service_role_key, "Authorization": f"Bearer {lb.service_role_key}"}
        httpx.post(f"{lb.url}/auth/v1/admin/users", headers=headers, json={
            "email": EMAIL, "password": PASSWORD, "email_confirm": True,
            "user_metadata": {"citizen_id": CITIZEN, "name": "Bench"},
            "app_metadata": {"clearance_level": "green"}}).raise_for_status()
        token = httpx.post(f"{lb.url}/auth/v1/token?grant_type=password", headers={"apikey": lb.anon_key},
                           json={"email": EMAIL, "password": PASSWORD}).json()["access_token"]
        api_proc, api = start_api(lb.url, lb.anon_key)
        try:
            user = {"Authorization": f"Bearer {token}"}
            runs = {
                "rest": (f"{lb.url}/rest/v1/citizens?select=*&citizen_id=eq.{CITIZEN}",
                         {**user, "apikey": lb.anon_key}),
                "api": (f"{api}/citizens/{CITIZEN}", user),
                "data": (f"{api}/protected/efficiency-data", user),
            }
            results = {}
            for name, (url, hdrs) in runs.items():
                assert httpx.get(url, headers=hdrs).status_code == 200, name
                with console.status(f"{name}: {args.connections} connections, {args.seconds}s"):
                    results[name] = run_wrk(url, hdrs, connections=args.connections, seconds=args.seconds)
        finally:
            api_proc.terminate()
            api_proc.wait(10)
    ratio = results["api"]["requests_per_s"] / results["rest"]["requests_per_s"]
    table = Table(title=f"hub API vs direct REST ({args.connections} connections, {os.cpu_count()} cores)")
    for col in ("run", "req/s", "p50 ms", "p99 ms", "non-2xx"):
        table.add_column(col, justify="right" if col != "run" else "left")
    for name, r in results.items():
        table.add_row(name, f"{r['requests_per_s']:,.0f}", f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}",
                      str(r["non_2xx"]))
    console.print(table)
    console.print(f"api/rest ratio: [bold]{ratio:.2f}[/]")
    path = save("hub_api", {"connections": args.connections, "seconds": args.seconds, "runs": results,
                            "api_over_rest": round(ratio, 3)})
    console.print(f"saved {path}")


if __name__ == "__main__":
    main()
