"""REST benchmark: GET one row by primary key as an authenticated user under RLS.

Side by side in one run, on this machine:
  rest  wrk -c64 against Localbase's /rest/v1 (HTTP, JWT, parse, plan, transaction, JSON)
  raw   the same statement sequence (set role + claims for the session; the same SELECT) run
        directly with asyncpg by 64 concurrent tasks on a pool of the same size as the server's
Prints `rest/raw ratio`, requests/s and p99 for both; writes benchmarks/results/rest.json.

    python benchmarks/rest.py [--seconds 10] [--connections 64] [--workers 1]

With --workers N the server runs N API processes (`localbase start --workers N`); the baseline
stays one process of 64 tasks. Results go to rest.json, or rest-workersN.json.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).parent))
from common import PROJECT, console, run_wrk, save  # noqa: E402
from cpu import cpu_seconds  # noqa: E402

from localbase.database.pool import rest_pool, session_facts  # noqa: E402
from localbase.rest import execute, sql  # noqa: E402
from localbase.rest.parse import parse_request  # noqa: E402
from localbase.rest.plan import Planner  # noqa: E402
from localbase.rest.schema_cache import introspect  # noqa: E402
from localbase.security import jwt  # noqa: E402
from localbase.testing.server import LocalbaseProcess  # noqa: E402

POOL_SIZE = 20  # the server's rest pool size


async def seed(db_url: str, owner: uuid.UUID) -> int:
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("insert into bench_items (owner_id, name, qty) select $1, 'item ' || g, g "
                           "from generate_series(1, 10000) g", owner)
        await conn.execute("insert into bench_items (owner_id, name) select gen_random_uuid(), 'other' "
                           "from generate_series(1, 10000)")
        await conn.execute("analyze bench_items")
        return await conn.fetchval("select id from bench_items where owner_id = $1 order by id offset 4999 limit 1",
                                   owner)
    finally:
        await conn.close()


async def raw_baseline(server: LocalbaseProcess, token: str, row_id: int, *, seconds: float, concurrency: int) -> dict:
    """The same transaction, statement and parameters the server runs, straight through asyncpg."""
    admin = await asyncpg.connect(server.db_url)
    schema = await introspect(admin, ("public",))
    await admin.close()
    req = parse_request("GET", "bench_items", [("select", "*"), ("id", f"eq.{row_id}")], {}, b"")
    st = sql.read(Planner(schema, 1000).read(req), count=None, single=False, strip_nulls=False, head=False)
    caller = execute.caller_from(f"Bearer {token}", server.jwt_secret)
    ctx = execute.Context("GET", "/bench_items", "{}")
    rest_dsn = f"postgresql://authenticator@127.0.0.1:{server.db_port}/postgres"
    # the server reaches PostgreSQL over its Unix socket; so does the baseline
    socket_dir = server.data_dir / "run"
    dsn = (f"postgresql://authenticator@/postgres?host={socket_dir}&port={server.db_port}"
           if socket_dir.exists() else rest_dsn)
    pool = await rest_pool(dsn, POOL_SIZE, min_size=POOL_SIZE).open()
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async with pool.acquire() as conn:
        session, _ = await session_facts(conn)
    timeout = "8s"  # the authenticated role's statement_timeout (as on Supabase)

    async def worker() -> None:
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            async with pool.acquire() as conn:
                if session:  # as the server reads on a direct connection (execute.read_session)
                    await conn.fetchval(execute.SET_READ_SESSION, caller.role, caller.claims_json, ctx.method,
                                        ctx.path, ctx.headers_json, ctx.search_path, timeout)
                    row = await conn.fetchrow(st.sql, *st.args)
                else:
                    async with conn.transaction(readonly=True):
                        await conn.fetchval(execute.SET_CONTEXT_WITH_TIMEOUT, caller.role, caller.claims_json,
                                            ctx.method, ctx.path, ctx.headers_json, ctx.search_path, timeout)
                        row = await conn.fetchrow(st.sql, *st.args)
            assert row["page_total"] == 1
            latencies.append(time.perf_counter() - t0)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await pool.close()
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {"requests_per_s": len(latencies) / elapsed, "p50_ms": pick(0.50), "p90_ms": pick(0.90),
            "p99_ms": pick(0.99)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--workers", type=int, default=1, help="API worker processes of the server")
    args = ap.parse_args()
    with LocalbaseProcess(PROJECT, extra_args=["--workers", str(args.workers)]) as server:
        owner = uuid.uuid4()
        row_id = asyncio.run(seed(server.db_url, owner))
        now = int(time.time())
        token = jwt.sign({"sub": str(owner), "role": "authenticated", "aud": "authenticated", "iat": now,
                          "exp": now + 3600}, server.jwt_secret)
        url = f"{server.url}/rest/v1/bench_items?select=*&id=eq.{row_id}"
        headers = {"apikey": server.anon_key, "Authorization": f"Bearer {token}"}
        import httpx
        check = httpx.get(url, headers=headers)
        assert check.status_code == 200 and len(check.json()) == 1, check.text
        console.print(f"[bold]REST[/bold] GET one row by primary key under RLS, {args.connections} connections, "
                      f"{args.seconds}s each, {args.workers} API worker(s)")
        run_wrk(url, headers, connections=args.connections, seconds=2)  # warm-up
        with console.status("wrk → Localbase…"):
            used = cpu_seconds(server.process.pid)
            rest = run_wrk(url, headers, connections=args.connections, seconds=args.seconds)
            used = cpu_seconds(server.process.pid) - used
        # the API process's CPU per answer: steadier than requests/s on a busy machine
        one = args.workers == 1 and rest["ok"]  # (with --workers N the pid is the supervisor's)
        rest["server_cpu_us_per_request"] = round(1e6 * used / rest["ok"], 1) if one else None
        with console.status("asyncpg → PostgreSQL (baseline)…"):
            import uvloop  # the server runs on uvloop; so does the baseline
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                raw = runner.run(raw_baseline(server, token, row_id, seconds=args.seconds,
                                              concurrency=args.connections))
    ratio = rest["requests_per_s"] / raw["requests_per_s"]
    from rich.table import Table
    table = Table(title="rest vs raw asyncpg (same machine, same run)")
    for col in ("", "req/s", "p50 ms", "p99 ms"):
        table.add_column(col, justify="right")
    for name, r in (("rest", rest), ("raw", raw)):
        table.add_row(name, f"{r['requests_per_s']:.0f}", f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}")
    console.print(table)
    console.print(f"rest/raw ratio: [bold]{ratio:.2f}[/bold] (target >= 0.6); rest p99 {rest['p99_ms']:.2f} ms "
                  f"(target < 25 ms); non-2xx: {rest['non_2xx']}; API process CPU per request: "
                  f"{rest['server_cpu_us_per_request']} µs")
    name = "rest" if args.workers == 1 else f"rest-workers{args.workers}"
    path = save(name, {"connections": args.connections, "seconds": args.seconds, "workers": args.workers,
                       "rest": rest, "raw": raw, "ratio": ratio})
    console.print(f"[dim]written {path}[/dim]")


if __name__ == "__main__":
    main()
