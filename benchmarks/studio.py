"""Studio benchmark: what Studio costs the API, and how fast its pages answer.

Side by side in one run, on this machine:
  api    wrk against GET one row by primary key under RLS (as benchmarks/rest.py), on a server with
         Studio (its per-request log hook on) and one with --no-studio, alternating rounds (and
         which of the two goes first);
         prints `studio/no-studio` requests/s ratio (target >= 0.97)
  hook   the per-request log hook alone (timeit), in microseconds and as a share of one request
         at the measured rate without Studio - the cost the side-by-side ratio cannot resolve on
         a busy machine (an A/A run of two --no-studio servers differs by as much there)
  pages  p50/p90 of each Studio page over --samples requests (one client, sequential), and the
         grid's first page against its page 400 rows deep in a 20,000-row table (keyset pages:
         ratio ~1, where OFFSET would grow with the depth)
Writes benchmarks/results/studio.json.

    python benchmarks/studio.py [--seconds 5] [--rounds 4] [--samples 30]
"""

from __future__ import annotations

import argparse
import asyncio
import html
import re
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from common import PROJECT, console, run_wrk, save  # noqa: E402
from rest import seed  # noqa: E402

from localbase.security import jwt  # noqa: E402
from localbase.testing.server import LocalbaseProcess  # noqa: E402

PAGES = {
    "tables": "/tables",
    "grid (50 rows)": "/tables/public/bench_items",
    "policies": "/policies",
    "logs": "/logs",
    "api docs (table)": "/api/public/bench_items",
    "auth users": "/auth",
}


def api_round(server: LocalbaseProcess, row_id: int, owner: uuid.UUID, seconds: int, connections: int) -> float:
    now = int(time.time())
    token = jwt.sign({"sub": str(owner), "role": "authenticated", "aud": "authenticated", "iat": now,
                      "exp": now + 3600}, server.jwt_secret)
    url = f"{server.url}/rest/v1/bench_items?select=*&id=eq.{row_id}"
    return run_wrk(url, {"apikey": server.anon_key, "Authorization": f"Bearer {token}"},
                   connections=connections, seconds=seconds)["requests_per_s"]


def hook_microseconds(n: int = 200_000) -> float:
    import timeit

    from localbase.studio.logbook import Logbook
    book = Logbook()
    scope = {"method": "GET", "path": "/rest/v1/bench_items", "query_string": b"select=*&id=eq.5",
             "client": ("127.0.0.1", 5555)}
    return timeit.timeit(lambda: book.request(scope, "rest", 200, 0.001), number=n) / n * 1e6


def timed(client: httpx.Client, method: str, path: str, samples: int, **kw) -> dict:
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        r = client.request(method, path, **kw)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
    times.sort()
    return {"p50_ms": statistics.median(times), "p90_ms": times[int(0.9 * (len(times) - 1))]}


def deep_link(client: httpx.Client, hops: int) -> str:
    url = "/tables/public/bench_items?limit=50"
    for _ in range(hops):
        url = html.unescape(re.search(r'<a href="([^"]+)" rel="next">', client.get(url).text).group(1))
    return url


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--samples", type=int, default=30)
    args = ap.parse_args()
    with LocalbaseProcess(PROJECT) as on, LocalbaseProcess(PROJECT, extra_args=["--no-studio"]) as off:
        owner = uuid.uuid4()
        rows = {name: asyncio.run(seed(s.db_url, owner)) for name, s in (("on", on), ("off", off))}
        console.print(f"[bold]Studio[/bold]: API cost ({args.rounds} rounds of {args.seconds}s, "
                      f"{args.connections} connections), then page times ({args.samples} samples)")
        api_round(on, rows["on"], owner, 2, args.connections)  # warm-up
        api_round(off, rows["off"], owner, 2, args.connections)
        with_studio, without = [], []
        for i in range(args.rounds):  # alternating, and which goes first too: drift on a busy machine hits both
            order = [(on, "on", with_studio), (off, "off", without)]
            for server, name, into in (order if i % 2 == 0 else order[::-1]):
                into.append(api_round(server, rows[name], owner, args.seconds, args.connections))
        ratio = statistics.mean(with_studio) / statistics.mean(without)
        hook_us = hook_microseconds()
        hook_share = hook_us * statistics.mean(without) / 1e6
        pages = {}
        with httpx.Client(base_url=on.studio_url, timeout=60) as client:
            for name, path in PAGES.items():
                client.get(path)
                pages[name] = timed(client, "GET", path, args.samples)
            deep = deep_link(client, 8)  # 400 rows in
            pages["grid, 400 rows deep"] = timed(client, "GET", deep, args.samples)
            token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/sql").text).group(1)
            pages["sql: count(*) as service_role"] = timed(
                client, "POST", "/sql/run", args.samples, headers={"x-csrf-token": token, "origin": on.studio_url},
                data={"sql": "select count(*) from bench_items", "role": "service_role"})
    depth = pages["grid, 400 rows deep"]["p50_ms"] / pages["grid (50 rows)"]["p50_ms"]
    from rich.table import Table
    table = Table(title="Studio pages (measured under load: rerun on a quiet machine)")
    for col in ("page", "p50 ms", "p90 ms"):
        table.add_column(col, justify="right")
    for name, r in pages.items():
        table.add_row(name, f"{r['p50_ms']:.1f}", f"{r['p90_ms']:.1f}")
    console.print(table)
    console.print(f"API with Studio / without: [bold]{ratio:.3f}[/bold] (target >= 0.97; "
                  f"{statistics.mean(with_studio):.0f} vs {statistics.mean(without):.0f} req/s); "
                  f"grid 400 rows deep / first page: [bold]{depth:.2f}[/bold] (keyset: ~1)")
    console.print(f"the log hook alone: [bold]{hook_us:.2f} µs[/bold] a request, {hook_share:.2%} of one at "
                  f"{statistics.mean(without):.0f} req/s")
    path = save("studio", {"rounds": args.rounds, "seconds": args.seconds, "connections": args.connections,
                           "api_with_studio_rps": with_studio, "api_without_studio_rps": without,
                           "api_ratio": ratio, "hook_us": hook_us, "hook_share": hook_share, "pages": pages,
                           "deep_page_ratio": depth})
    console.print(f"[dim]written {path}[/dim]")


if __name__ == "__main__":
    main()
