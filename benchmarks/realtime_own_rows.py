"""Realtime with row level security, the case of issue 14: N signed-in users (distinct JWTs), each
watching table `notes` whose policy shows a user only their own rows (`auth.uid() = owner_id`),
while rows are inserted at a steady rate for the users in turn - so every change is checked for
every subscriber and reaches exactly one of them.

Measured per case: commit-to-callback latency (p50 / p99 / max, from just before the INSERT is
sent), deliveries per second, whether every change reached its owner and nobody else, and the
server's CPU per delivered message from /proc (benchmarks/cpu.py): the Python server process(es)
plus the PostgreSQL backends serving Realtime (walsender, authorization and pool connections);
the inserting clients' backends are left out. `marginal_cpu_ms_per_delivery` subtracts the same
paced inserts with nobody subscribed (whole server, all backends): the figure comparable with
another server measured the same way (PocketBase, benchmarks/pocketbase.py).

Subscribers are official Python realtime clients (AsyncRealtimeClient, the one supabase-py
wraps), one WebSocket each, in this process.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx

from benchmarks import cpu
from localbase.security import jwt

REALTIME_APPS = ("localbase-realtime", "localbase-realtime-authorize")


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))]


def user_token(server, uid: str) -> str:
    """An access token shaped like the ones GoTrue issues (the claims a policy parses)."""
    now = int(time.time())
    return jwt.sign({"iss": f"{server.url}/auth/v1", "sub": uid, "aud": "authenticated", "exp": now + 3600,
                     "iat": now, "email": f"{uid[:8]}@example.com", "phone": "",
                     "app_metadata": {"provider": "email", "providers": ["email"]},
                     "user_metadata": {"email": f"{uid[:8]}@example.com", "email_verified": True},
                     "role": "authenticated", "aal": "aal1", "amr": [{"method": "password", "timestamp": now}],
                     "session_id": str(uuid.uuid4()), "is_anonymous": False}, server.jwt_secret)


class Arrivals:
    """Which inserted rows reached their owner, when; any row shown to someone else is counted."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}  # title -> arrival time
        self.misdelivered = 0  # a row shown to someone who is not its owner
        self.duplicates = 0

    def arrived(self, owner: object, uid: str, title: str) -> None:
        if owner != uid:
            self.misdelivered += 1
        elif title in self.arrivals:
            self.duplicates += 1
        else:
            self.arrivals[title] = time.perf_counter()

    async def wait(self, titles: list[str], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(t in self.arrivals for t in titles):
                return True
            await asyncio.sleep(0.01)
        return False


class Watchers(Arrivals):
    """N users, each with a realtime client subscribed to INSERTs on `notes`."""

    def __init__(self, server, n: int):
        super().__init__()
        self.server, self.n = server, n
        self.users = [str(uuid.uuid4()) for _ in range(n)]
        self.clients: list = []

    def _callback(self, uid: str):
        def on_change(payload) -> None:
            record = payload["data"]["record"]
            self.arrived(record.get("owner_id"), uid, record["title"])
        return on_change

    async def __aenter__(self) -> Watchers:
        from realtime import AsyncRealtimeClient, RealtimePostgresChangesListenEvent

        async def one(uid: str) -> None:
            client = AsyncRealtimeClient(f"{self.server.url}/realtime/v1", self.server.anon_key,
                                         auto_reconnect=False)
            await client.connect()
            await client.set_auth(user_token(self.server, uid))
            status: list = []
            channel = client.channel(f"own-{uid[:8]}")
            channel.on_postgres_changes(RealtimePostgresChangesListenEvent.Insert, self._callback(uid),
                                        table="notes", schema="public")
            await channel.subscribe(lambda s, e: status.append((s, e)))
            if not status or status[-1][0] != "SUBSCRIBED":
                raise RuntimeError(f"subscribe failed: {status}")
            self.clients.append(client)

        for start in range(0, self.n, 50):
            await asyncio.gather(*(one(uid) for uid in self.users[start:start + 50]))
        return self

    async def __aexit__(self, *exc) -> None:
        await asyncio.gather(*(c.close() for c in self.clients), return_exceptions=True)


async def paced(send: Callable[[int, str], Awaitable[None]], rate: float, seconds: float, prefix: str,
                connections: int = 4) -> dict[str, float]:
    """`rate` sends per second for `seconds` over `connections` concurrent senders (send(k, title)
    for sender k); returns title -> time just before it was sent. A server that cannot take them
    that fast is given 3x the time (+10 s), then the rest is not sent (`changes` < `planned`)."""
    total = int(rate * seconds)
    sent: dict[str, float] = {}
    t0 = time.perf_counter() + 0.05
    give_up = t0 + 3 * seconds + 10

    async def worker(k: int) -> None:
        for i in range(k, total, connections):
            if time.perf_counter() > give_up:
                return
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            title = f"{prefix}-{i}"
            sent[title] = time.perf_counter()
            await send(k, title)

    await asyncio.gather(*(worker(k) for k in range(connections)))
    return sent


async def paced_inserts(db_url: str, owners: list[str], rate: float, seconds: float, prefix: str,
                        connections: int = 4) -> dict[str, float]:
    """Single-row INSERT transactions into `notes`, owners in turn."""
    conns = [await asyncpg.connect(db_url) for _ in range(connections)]
    turn = iter(range(10**9))

    async def insert(k: int, title: str) -> None:
        await conns[k].execute("insert into notes (owner_id, title) values ($1, $2)",
                               owners[next(turn) % len(owners)], title)

    try:
        return await paced(insert, rate, seconds, prefix, connections)
    finally:
        for conn in conns:
            await conn.close()


def result(n: int, rate: float, seconds: float, sent: dict[str, float], watchers: Arrivals, complete: bool,
           started: float, inserted: float) -> dict:
    """The figures of one case common to every server: deliveries and latencies."""
    finished = max((watchers.arrivals.get(t, 0.0) for t in sent), default=inserted)
    lat = [(watchers.arrivals[t] - sent[t]) * 1000 for t in sent if t in watchers.arrivals]
    return {
        "subscribers": n, "insert_rate": rate, "seconds": seconds, "planned": int(rate * seconds),
        "changes": len(sent), "delivered": len(lat),
        "all_delivered": complete and len(lat) == len(sent) == int(rate * seconds),
        "misdelivered": watchers.misdelivered, "duplicates": watchers.duplicates,
        "p50_ms": round(pct(lat, 50), 2), "p99_ms": round(pct(lat, 99), 2),
        "max_ms": round(max(lat, default=float("nan")), 2),
        "inserts_per_s": round(len(sent) / (inserted - started), 1),
        "delivered_per_s": round(len(lat) / max(1e-9, max(finished, inserted) - started), 1),
    }


async def _realtime_backends(db) -> dict[int, str]:
    """pid -> which: the walsender (decoding the WAL), the authorization connection, the pool's."""
    rows = await db.fetch("select pid, case when backend_type = 'walsender' then 'walsender' "
                          "when application_name = 'localbase-realtime-authorize' then 'authorize' else 'pool' end "
                          "as which from pg_stat_activity where backend_type = 'walsender' "
                          "or application_name = any($1::text[])", list(REALTIME_APPS))
    return {r["pid"]: r["which"] for r in rows}


async def _server_stats(server) -> dict:
    """The realtime counters of the worker that answers (all of them with one worker)."""
    async with httpx.AsyncClient() as h:
        r = await h.get(f"{server.url}/realtime/v1/api/stats", headers={"apikey": server.service_role_key})
        r.raise_for_status()
        return r.json()


def _batches(before: dict, after: dict) -> dict | None:
    if "fanout_batches" not in after:  # a server that authorizes change by change
        return None
    d = {k: after.get(k, 0) - before.get(k, 0) for k in
         ("fanout_batches", "evaluations", "authorize_queries", "authorize_ms", "fanout_ms", "contexts_checked")}
    batches = max(1, d["fanout_batches"])
    return {"batches": d["fanout_batches"], "changes_per_batch": round(d["evaluations"] / batches, 2),
            "authorize_ms_per_batch": round(d["authorize_ms"] / batches, 3),
            "fanout_ms_per_batch": round(d["fanout_ms"] / batches, 3),
            "authorize_us_per_context_and_change": round(1000 * d["authorize_ms"] / max(1, d["contexts_checked"]), 3)}


def _python_pids(server) -> list[int]:
    return [pid for pid, name in cpu.descendants(server.process.pid).items() if not name.startswith("postgres")]


def start_profile(pid: int, path: Path, seconds: float) -> subprocess.Popen | None:
    """py-spy (pip install py-spy) sampling the server process while the inserts run."""
    exe = shutil.which("py-spy")
    if exe is None:
        return None
    return subprocess.Popen([exe, "record", "-p", str(pid), "-r", "100", "-d", str(max(1, round(seconds))),
                             "-f", "raw", "-o", str(path), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _frame(text: str) -> tuple[str, str]:
    """'Fanout.run (localbase/realtime/fanout.py:80)' -> ('Fanout.run', 'localbase/realtime/fanout.py')"""
    name, _, where = text.partition(" (")
    return name, where.rsplit(":", 1)[0]


def profile_summary(path: Path, top: int = 12) -> dict:
    """From py-spy's collapsed stacks: shares of all samples of (self) the functions on top of
    the stack - the event loop itself (uvloop's native I/O, idle waits) shows as Runner.run -
    and (inclusive) the Localbase functions on the stack."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = [_frame(f) for f in stack.split(";")]
        samples = int(count)
        total += samples
        name, where = frames[-1]
        own[f"{name} ({where.rsplit('/', 1)[-1]})"] += samples
        for name, where in {f for f in frames if f[1].startswith("localbase/") and "/cli/" not in f[1]
                            and not f[1].endswith(("__main__.py", "server.py"))}:
            inclusive[f"{name} ({where})"] += samples

    def share(counts: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * k / max(1, total), 1)) for name, k in counts.most_common(top)]
    return {"samples": total, "self_percent": share(own), "localbase_inclusive_percent": share(inclusive)}


async def own_rows_case(server, n: int, rate: float, seconds: float, drain: float = 60.0,
                        profile: Path | None = None) -> dict:
    """One case on a running Localbase: the paced inserts without subscribers (for the marginal
    CPU), then with `n` subscribers; `profile`: a py-spy profile of the server meanwhile."""
    db = await asyncpg.connect(server.db_url)
    try:
        root = server.process.pid
        owners = [str(uuid.uuid4()) for _ in range(n)]
        before = cpu.snapshot(cpu.descendants(root))
        await paced_inserts(server.db_url, owners, rate, seconds, f"idle-{n}")
        await asyncio.sleep(0.5)
        after = cpu.snapshot(cpu.descendants(root))
        idle_cpu = cpu.used(before, after)

        async with Watchers(server, n) as watchers:
            warm_rate = min(rate, 200)
            warm = await paced_inserts(server.db_url, watchers.users, warm_rate, min(n, 50) / warm_rate + 0.01,
                                       f"warm-{n}")
            await watchers.wait(list(warm), 60)
            tree = cpu.descendants(root)
            python, realtime_pg = _python_pids(server), await _realtime_backends(db)
            stats = await _server_stats(server)
            spy = start_profile(server.process.pid, profile, seconds) if profile else None
            before = cpu.snapshot(tree)
            started = time.perf_counter()
            sent = await paced_inserts(server.db_url, watchers.users, rate, seconds, f"rls-{n}")
            inserted = time.perf_counter()
            complete = await watchers.wait(list(sent), drain)
            after = cpu.snapshot(cpu.descendants(root))
            stats_after = await _server_stats(server)
            if spy is not None:
                spy.wait(60)
            figures = result(n, rate, seconds, sent, watchers, complete, started, inserted)
            python_s = cpu.used(before, after, python)
            realtime_pg_s = cpu.used(before, after, realtime_pg)
            by_backend = {which: round(cpu.used(before, after, [p for p, w in realtime_pg.items() if w == which]), 3)
                          for which in sorted(set(realtime_pg.values()))}
            total_s = cpu.used(before, after)
            per = 1000 / max(1, figures["delivered"])
            return {
                **figures,
                "cpu_s": {"python": round(python_s, 3), "postgres_realtime": round(realtime_pg_s, 3),
                          "postgres_realtime_by_backend": by_backend,
                          "whole_server": round(total_s, 3), "whole_server_no_subscribers": round(idle_cpu, 3)},
                "cpu_ms_per_delivery": round((python_s + realtime_pg_s) * per, 4),
                "marginal_cpu_ms_per_delivery": round((total_s - idle_cpu) * per, 4),
                "server_batches_one_worker": _batches(stats, stats_after),
                **({"profile": profile_summary(profile)} if spy is not None and profile and profile.exists() else {}),
            }
    finally:
        await db.close()
