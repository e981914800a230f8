"""Soak: N minutes of steady mixed traffic against one Localbase, watching for errors, latency
drift and memory growth.

Traffic (open loop, at fixed rates whatever the latency), on benchmarks/project:
  read     GET  /rest/v1/soak_events?select=*&order=id.desc&limit=20 as a signed-in user (RLS)
  write    POST /rest/v1/soak_events as a signed-in user (RLS WITH CHECK)
  sign-in  POST /auth/v1/token?grant_type=password (bcrypt, session + refresh token rows)
  realtime one subscriber per user on INSERT into soak_events (RLS-checked): every acknowledged
           write of a subscribed user must arrive
Recorded per interval (a minute by default): requests, errors by status, p50/p99 latency per
kind, Realtime deliveries and lag, the server's RSS and PostgreSQL's memory (USS: private memory
summed over its processes; PSS: with shared buffers counted once), and the machine's load.

Pass: zero 5xx; no latency drift (p99 of the last third of the judged intervals within 2x of the
first third's, per kind); memory growth < 10% from the end of warm-up to the end (server RSS;
PostgreSQL's private memory per process, as its total follows the pool's connection count);
every delivery arrives. Warm-up lasts until Realtime's retention buffer (the
changes of the last `retention_seconds`, a bounded cache) has filled: 5 minutes by default.
Writes benchmarks/results/soak.json.

    python benchmarks/soak.py [--minutes 10] [--rate 100] [--signins 1] [--users 20] [--interval 60] [--workers 1]

With --workers N the server runs N API processes: its RSS is theirs and the supervising
process's together; results go to soak-workersN.json.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import psutil
from rich.table import Table

HERE = Path(__file__).resolve().parent
# run as a script, this file's folder comes first on sys.path, and benchmarks/realtime.py would
# shadow the `realtime` package the supabase client imports
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))
from benchmarks.common import PROJECT, console, save  # noqa: E402 - after the sys.path fix above
from localbase.testing.server import LocalbaseProcess  # noqa: E402 - after the sys.path fix above

PASSWORD = "soak-password-1"
NO_RATE_LIMITS = {f"LOCALBASE_AUTH_RATE_LIMIT_{name}": "0" for name in (
    "SIGN_IN_SIGN_UPS", "SIGN_IN_SIGN_UPS_PER_EMAIL", "TOKEN_REFRESH", "TOKEN_VERIFICATIONS")}
DRIFT_LIMIT = 2.0
GROWTH_LIMIT = 0.10


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


class Interval:
    def __init__(self, index: int):
        self.index = index
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.delivery_lag: list[float] = []
        self.memory: dict[str, float] = {}
        self.load = 0.0  # the machine's 1-minute load average at the end (other work skews latency)
        self.realtime: dict = {}  # the server's Realtime counters at the end

    def summary(self) -> dict:
        out = {"interval": self.index, "requests": dict(self.status), "errors": dict(self.errors),
               "memory_mb": self.memory, "load_average": self.load, "realtime_server": self.realtime}
        for kind, values in self.latency.items():
            out[kind] = {"count": len(values), "p50_ms": pct(values, 50), "p99_ms": pct(values, 99)}
        out["realtime"] = {"deliveries": len(self.delivery_lag), "p50_ms": pct(self.delivery_lag, 50),
                           "p99_ms": pct(self.delivery_lag, 99)}
        return out


class Soak:
    def __init__(self, server: LocalbaseProcess, args):
        self.server = server
        self.args = args
        self.users: list[dict] = []  # {"id", "email", "token"}
        self.clients: list = []
        self.intervals: list[Interval] = []
        self.started = 0.0
        self.written: dict[tuple[str, str], float] = {}  # (user, kind) -> when the write was answered
        self.delivered: set[tuple[str, str]] = set()
        self.inflight: set[asyncio.Task] = set()

    # -- set-up --------------------------------------------------------------------------------
    async def setup(self, http: httpx.AsyncClient) -> None:
        admin = {"apikey": self.server.service_role_key, "Authorization": f"Bearer {self.server.service_role_key}"}
        for i in range(self.args.users):
            email = f"soak{i}@example.com"
            r = await http.post("/auth/v1/admin/users", headers=admin,
                                json={"email": email, "password": PASSWORD, "email_confirm": True})
            r.raise_for_status()
            r = await http.post("/auth/v1/token?grant_type=password", headers={"apikey": self.server.anon_key},
                                json={"email": email, "password": PASSWORD})
            r.raise_for_status()
            self.users.append({"id": r.json()["user"]["id"], "email": email, "token": r.json()["access_token"]})
        from supabase import AsyncClientOptions, acreate_client
        for user in self.users:
            c = await acreate_client(self.server.url, self.server.anon_key,
                                     options=AsyncClientOptions(auto_refresh_token=False, persist_session=False))
            await c.realtime.set_auth(user["token"])
            status: list = []
            channel = c.channel(f"soak-{user['id']}")
            channel.on_postgres_changes("INSERT", self._delivered, schema="public", table="soak_events")
            await channel.subscribe(lambda s, e, status=status: status.append(s))
            deadline = time.monotonic() + 10
            while "SUBSCRIBED" not in [str(getattr(s, "value", s)) for s in status]:
                assert time.monotonic() < deadline, f"subscribe failed: {status}"
                await asyncio.sleep(0.02)
            self.clients.append(c)

    def _delivered(self, payload) -> None:
        record = payload["data"]["record"]
        key = (record["owner_id"], record["kind"])
        self.delivered.add(key)
        answered = self.written.get(key)
        if answered is not None:
            self.current().delivery_lag.append(max(0.0, time.monotonic() - answered) * 1000)

    # -- traffic -------------------------------------------------------------------------------
    @property
    def planned(self) -> int:
        return max(1, math.ceil(self.args.minutes * 60 / self.args.interval))

    def current(self) -> Interval:
        index = min(int((time.monotonic() - self.started) // self.args.interval), self.planned - 1)
        return self.intervals[max(0, index)]

    async def request(self, http: httpx.AsyncClient, kind: str, method: str, url: str, **kw) -> httpx.Response | None:
        began = time.monotonic()
        try:
            r = await http.request(method, url, **kw)
        except httpx.HTTPError as exc:
            interval = self.current()
            interval.status[f"{kind}:error"] += 1
            interval.errors[f"{kind}: {type(exc).__name__}"] += 1
            return None
        interval = self.current()
        interval.latency[kind].append((time.monotonic() - began) * 1000)
        interval.status[f"{kind}:{r.status_code}"] += 1
        if r.status_code >= 300:
            interval.errors[f"{kind}: {r.status_code} {r.text[:120]}"] += 1
        return r

    async def read(self, http: httpx.AsyncClient, user: dict) -> None:
        await self.request(http, "read", "GET", "/rest/v1/soak_events?select=*&order=id.desc&limit=20",
                           headers=self.headers(user))

    async def write(self, http: httpx.AsyncClient, user: dict, n: int) -> None:
        kind = f"w{n}"
        r = await self.request(http, "write", "POST", "/rest/v1/soak_events",
                               headers={**self.headers(user), "Prefer": "return=minimal"},
                               json={"kind": kind, "payload": {"n": n, "pad": "x" * 200}})
        if r is not None and r.status_code == 201:
            self.written[(user["id"], kind)] = time.monotonic()

    async def sign_in(self, http: httpx.AsyncClient, user: dict) -> None:
        await self.request(http, "sign-in", "POST", "/auth/v1/token?grant_type=password",
                           headers={"apikey": self.server.anon_key},
                           json={"email": user["email"], "password": PASSWORD})

    def headers(self, user: dict) -> dict[str, str]:
        return {"apikey": self.server.anon_key, "Authorization": f"Bearer {user['token']}"}

    def spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)

    async def drive(self, http: httpx.AsyncClient) -> None:
        """Open loop: requests start on schedule, however long the earlier ones take."""
        rng = random.Random(7)
        counter = itertools.count()
        self.intervals = [Interval(i) for i in range(self.planned)]
        rest_every = 1 / self.args.rate
        signin_every = 1 / self.args.signins if self.args.signins else None
        next_rest = next_signin = self.started = time.monotonic()
        end = self.started + self.args.minutes * 60
        sampler = asyncio.create_task(self.sampler(http))
        while (now := time.monotonic()) < end:
            while next_rest <= now:
                user = rng.choice(self.users)
                if rng.random() < self.args.write_share:
                    self.spawn(self.write(http, user, next(counter)))
                else:
                    self.spawn(self.read(http, user))
                next_rest += rest_every
            if signin_every is not None and next_signin <= now:
                self.spawn(self.sign_in(http, rng.choice(self.users)))
                next_signin += signin_every
            await asyncio.sleep(max(0.0, next_rest - time.monotonic()))
        await asyncio.gather(*list(self.inflight), return_exceptions=True)
        await sampler

    async def sampler(self, http: httpx.AsyncClient) -> None:
        """At the end of each interval: memory, load and Realtime's counters, and a console line."""
        for interval in self.intervals:
            due = self.started + min((interval.index + 1) * self.args.interval, self.args.minutes * 60)
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            self.sample(interval)
            try:
                r = await http.get("/realtime/v1/api/stats", headers={"apikey": self.server.service_role_key})
                stats = r.json()
                interval.realtime = {k: stats.get(k) for k in ("connections", "retained_changes",
                                                               "pending_changes", "largest_queue")}
            except (httpx.HTTPError, ValueError):
                pass
            self.report(interval)

    # -- memory --------------------------------------------------------------------------------
    def sample(self, interval: Interval) -> None:
        server = psutil.Process(self.server.process.pid)
        pg_rss = pg_pss = pg_uss = 0.0
        processes = 0
        postmaster = None
        try:
            postmaster = postmaster_pid(self.server)
            for p in [psutil.Process(postmaster), *psutil.Process(postmaster).children()]:
                try:
                    info = p.memory_full_info()
                    pg_rss += info.rss
                    pg_pss += info.pss
                    pg_uss += info.uss
                    processes += 1
                except psutil.Error:
                    pass
        except (OSError, ValueError, psutil.Error):
            pass
        server_rss = server.memory_info().rss
        for child in server.children():  # API workers (with --workers N); not PostgreSQL
            try:
                if child.pid != postmaster:
                    server_rss += child.memory_info().rss
            except psutil.Error:
                pass
        interval.memory = {"server_rss": server_rss / 2**20, "postgres_uss": pg_uss / 2**20,
                           "postgres_pss": pg_pss / 2**20, "postgres_rss": pg_rss / 2**20,
                           "postgres_processes": processes,
                           # what a leak in PostgreSQL would raise; the total also follows the number
                           # of pooled connections, which rises with load and falls when idle
                           "postgres_uss_per_process": pg_uss / 2**20 / max(1, processes)}
        interval.load = os.getloadavg()[0]

    def report(self, interval: Interval) -> None:
        s = interval.summary()
        cells = [f"{interval.index + 1}"]
        for kind in ("read", "write", "sign-in"):
            k = s.get(kind, {})
            cells.append(f"{k.get('count', 0)} / {_ms(k.get('p99_ms'))}")
        cells.append(f"{s['realtime']['deliveries']} / {_ms(s['realtime']['p99_ms'])}")
        cells.append(str(sum(v for key, v in s["requests"].items() if not key.endswith((":200", ":201")))))
        m = interval.memory
        cells.append(f"{m.get('server_rss', 0):.0f} / {m.get('postgres_uss', 0):.0f} "
                     f"({m.get('postgres_processes', 0)}: {m.get('postgres_uss_per_process', 0):.1f}) / "
                     f"{m.get('postgres_pss', 0):.0f}")
        cells.append(f"{interval.load:.1f}")
        cells.append(str(interval.realtime.get("retained_changes", "-")))
        console.print("  ".join(cells), soft_wrap=True)

    async def close(self) -> None:
        await asyncio.gather(*(c.realtime.close() for c in self.clients), return_exceptions=True)


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}ms"


def verdict(intervals: list[Interval], warmup: int, missing: int) -> dict:
    """Judged after warm-up. Drift: p99 of the last third of the intervals (pooled) over p99 of
    the first third. Growth: memory at the end over memory at the end of the first judged interval
    (server RSS; PostgreSQL USS, its private memory: shared buffers filling up is a bounded cache)."""
    summaries = [i.summary() for i in intervals]
    after = intervals[warmup:] or intervals[-1:]
    errors_5xx = sum(v for s in summaries for k, v in s["requests"].items() if k.split(":")[1].startswith("5"))
    transport_errors = sum(v for s in summaries for k, v in s["requests"].items() if k.endswith(":error"))
    third = max(1, len(after) // 3)  # early and late thirds of the judged intervals
    drift, p99 = {}, {}
    for kind in ("read", "write", "sign-in"):
        early = [v for i in after[:third] for v in i.latency.get(kind, [])]
        late = [v for i in after[-third:] for v in i.latency.get(kind, [])]
        if early and late:
            p99[kind] = {"early_ms": pct(early, 99), "late_ms": pct(late, 99)}
            drift[kind] = pct(late, 99) / pct(early, 99)
    first, last = (intervals[warmup - 1] if warmup else after[0]).memory, after[-1].memory
    judged = ("server_rss", "postgres_uss_per_process")
    growth = {name: (last[name] - first[name]) / first[name] for name in judged if first.get(name)}
    start = intervals[0].memory  # for the record: from the end of the first interval, warm-up included
    growth_whole_run = {name: (last[name] - start[name]) / start[name]
                        for name in ("server_rss", "postgres_uss", "postgres_uss_per_process") if start.get(name)}
    checks = {
        "zero 5xx": errors_5xx == 0,
        "no transport errors": transport_errors == 0,
        f"p99 drift < {DRIFT_LIMIT}x": all(v < DRIFT_LIMIT for v in drift.values()),
        f"memory growth < {GROWTH_LIMIT:.0%}": all(v < GROWTH_LIMIT for v in growth.values()),
        "every realtime delivery arrived": missing == 0,
    }
    return {"pass": all(checks.values()), "checks": checks, "errors_5xx": errors_5xx,
            "transport_errors": transport_errors, "p99_drift": drift, "p99_early_late": p99,
            "memory_growth": growth, "memory_growth_whole_run": growth_whole_run, "missing_deliveries": missing}


def default_warmup(args) -> int:
    """Intervals until the bounded in-memory caches are full: Realtime keeps the changes of the
    last `retention_seconds` (300 by default) for reconnecting subscribers, so the server's memory
    rises for that long and then stays flat."""
    from localbase.realtime.service import RealtimeConfig
    from localbase.settings import load_settings
    retention = RealtimeConfig.from_settings(load_settings(PROJECT, with_keys=False)).retention_seconds
    return max(1, math.ceil(retention / args.interval))


def postmaster_pid(server) -> int:
    return int((server.data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])


async def run(args) -> dict:
    with LocalbaseProcess(PROJECT, env=NO_RATE_LIMITS, extra_args=["--workers", str(args.workers)]) as server:
        limits = httpx.Limits(max_connections=args.connections, max_keepalive_connections=args.connections)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) as http:
            soak = Soak(server, args)
            with console.status("creating users and subscribers…"):
                await soak.setup(http)
            console.print(f"[bold]soak[/bold] {args.minutes} min: {args.rate} REST req/s "
                          f"({args.write_share:.0%} writes), {args.signins} sign-ins/s, {len(soak.clients)} "
                          f"realtime subscribers; a row every {args.interval}s")
            console.print("[dim]interval  read n/p99  write n/p99  sign-in n/p99  realtime n/p99  non-2xx  "
                          "server RSS / postgres USS (processes: per process) / PSS MB  load  retained[/dim]")
            try:
                await soak.drive(http)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and not set(soak.written) <= soak.delivered:
                    await asyncio.sleep(0.1)
            finally:
                await soak.close()
            missing = len(set(soak.written) - soak.delivered)
    warmup = min(args.warmup if args.warmup is not None else default_warmup(args),
                 max(0, len(soak.intervals) - 2))
    result = verdict(soak.intervals, warmup, missing)
    summaries = [i.summary() for i in soak.intervals]
    return {"minutes": args.minutes, "workers": args.workers, "rate": args.rate, "write_share": args.write_share,
            "signins_per_s": args.signins, "users": args.users, "subscribers": args.users,
            "interval_s": args.interval, "warmup_intervals": warmup, "writes_acknowledged": len(soak.written),
            "intervals": summaries, **result}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--rate", type=float, default=100, help="REST requests per second (reads + writes)")
    ap.add_argument("--write-share", type=float, default=0.3)
    ap.add_argument("--signins", type=float, default=1, help="password sign-ins per second")
    ap.add_argument("--users", type=int, default=20, help="signed-in users, each with a realtime subscriber")
    ap.add_argument("--connections", type=int, default=32, help="HTTP keep-alive connections")
    ap.add_argument("--interval", type=float, default=60, help="seconds per recorded interval")
    ap.add_argument("--warmup", type=int, default=None,
                    help="intervals not judged [default: until Realtime's retention window has filled]")
    ap.add_argument("--workers", type=int, default=1, help="API worker processes of the server")
    args = ap.parse_args()
    result = asyncio.run(run(args))

    table = Table(title=f"soak verdict: {'PASS' if result['pass'] else 'FAIL'}")
    table.add_column("check")
    table.add_column("result")
    for name, ok in result["checks"].items():
        table.add_row(name, "[green]pass[/green]" if ok else "[red]FAIL[/red]")
    console.print(table)
    console.print(f"5xx: {result['errors_5xx']}; p99 drift: "
                  + ", ".join(f"{k} {v:.2f}x" for k, v in result["p99_drift"].items())
                  + "; memory growth: " + ", ".join(f"{k} {v:+.1%}" for k, v in result["memory_growth"].items())
                  + f"; writes {result['writes_acknowledged']}, missing deliveries {result['missing_deliveries']}")
    path = save("soak" if args.workers == 1 else f"soak-workers{args.workers}", result)
    console.print(f"[dim]written {path}[/dim]")
    sys.exit(0 if result["pass"] else 1)


if __name__ == "__main__":
    main()
