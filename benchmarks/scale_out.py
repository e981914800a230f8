"""Scale-out benchmark: REST requests/s and Realtime delivery with 1, 2 and 3 Localbase nodes on
one PostgreSQL (localbase.testing.nodes), on this machine, and what each node costs.

For each node count N, on one PostgreSQL server of its own (testing/postgres.py, kept across N):
  rest      wrk against every node at once (the connections split evenly: a load balancer that
            costs nothing), GET one row by primary key as its owner under RLS (notes)
  realtime  S RLS-checked subscribers (each a user with its own socket) spread evenly over the
            nodes; inserts into `feed` paced at R per second for T seconds: deliveries/s and
            commit-to-callback latency (p50/p99)
  cost      CPU seconds of each node's process tree, of PostgreSQL as a whole and of each node's
            WAL sender (its slot's logical decoding), per 1000 requests / per 1000 changes; and
            PostgreSQL connections per node (pg_stat_activity, by application_name)
All nodes, PostgreSQL, wrk and the subscribers share this machine's cores: the figures say what
scaling costs, not what N hosts would give. That is projected "on paper" from the measured costs
per request and per change, with the assumptions printed (--node-cores, --pg-cores).
Writes benchmarks/results/scale_out.json.

    python benchmarks/scale_out.py [--nodes 1,2,3] [--seconds 8] [--connections 48] [--subscribers 30]
                                   [--rate 40] [--node-cores 4] [--pg-cores 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
import uuid
from pathlib import Path

import asyncpg

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # see benchmarks/realtime.py
sys.path.insert(0, str(ROOT))

from benchmarks.common import console, run_wrk, save  # noqa: E402
from benchmarks.realtime import Subscribers, pct, token  # noqa: E402
from localbase.testing.nodes import LocalbaseNodes  # noqa: E402
from localbase.testing.postgres import PostgresServer  # noqa: E402

PROJECT = ROOT / "tests" / "localbase" / "realtime" / "project"
TICK = os.sysconf("SC_CLK_TCK")


# -- CPU accounting from /proc ------------------------------------------------------------------------
def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, own CPU seconds, reaped children's CPU seconds)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK, (int(fields[13]) + int(fields[14])) / TICK


def tree_cpu(root: int) -> float:
    """CPU seconds used by `root` and every process below it, the exited ones it reaped included."""
    parents: dict[int, int] = {}
    own: dict[int, float] = {}
    reaped = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            found = _stat(int(entry))
            if found is not None:
                parents[int(entry)], own[int(entry)] = found[0], found[1]
                if int(entry) == root:
                    reaped = found[2]
    total, stack = reaped, [root]
    while stack:
        pid = stack.pop()
        total += own.get(pid, 0.0)
        stack.extend(child for child, parent in parents.items() if parent == pid)
    return total


async def walsender_pids(db) -> dict[str, int]:
    rows = await db.fetch("select slot_name, active_pid from pg_replication_slots where active_pid is not null")
    return {r["slot_name"]: r["active_pid"] for r in rows}


def process_cpu(pid: int) -> float:
    found = _stat(pid)
    return found[1] if found else 0.0


class Meter:
    """CPU of the nodes, of PostgreSQL and of each node's WAL sender between start() and stop()."""

    def __init__(self, cluster: LocalbaseNodes, pg: PostgresServer, senders: dict[str, int]):
        self.cluster, self.pg, self.senders = cluster, pg, senders

    def snapshot(self) -> dict:
        return {"nodes": [tree_cpu(n.process.pid) for n in self.cluster.nodes],  # type: ignore[union-attr]
                "postgres": tree_cpu(self.pg.process.pid),  # type: ignore[union-attr]
                "senders": {slot: process_cpu(pid) for slot, pid in self.senders.items()}, "t": time.perf_counter()}

    @staticmethod
    def spent(before: dict, after: dict) -> dict:
        return {"seconds": after["t"] - before["t"],
                "nodes": [round(a - b, 3) for a, b in zip(after["nodes"], before["nodes"], strict=True)],
                "postgres": round(after["postgres"] - before["postgres"], 3),
                "senders": {s: round(after["senders"].get(s, 0) - v, 3) for s, v in before["senders"].items()}}


# -- phases -------------------------------------------------------------------------------------------
async def seed(db_url: str) -> tuple[str, int]:
    owner = str(uuid.uuid4())
    db = await asyncpg.connect(db_url)
    try:
        await db.execute("insert into notes (owner_id, title) select $1, 'note ' || g from generate_series(1, 5000) g",
                         owner)
        await db.execute("insert into notes (owner_id, title) select gen_random_uuid(), 'other' "
                         "from generate_series(1, 5000)")
        await db.execute("analyze notes")
        row = await db.fetchval("select id from notes where owner_id = $1 order by id offset 2500 limit 1", owner)
        return owner, row
    finally:
        await db.close()


def rest_phase(cluster: LocalbaseNodes, owner: str, row: int, *, seconds: int, connections: int) -> dict:
    n = len(cluster.nodes)
    bearer = token(cluster, owner)
    results: list[dict] = [{}] * n

    def one(i: int) -> None:
        url = f"{cluster.nodes[i].url}/rest/v1/notes?select=id,title&id=eq.{row}"
        results[i] = run_wrk(url, {"apikey": cluster.anon_key, "Authorization": f"Bearer {bearer}"},
                             connections=max(1, connections // n), seconds=seconds, threads=1)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"requests_per_s": round(sum(r["requests_per_s"] for r in results)),
            "per_node_requests_per_s": [round(r["requests_per_s"]) for r in results],
            "p50_ms": max(r["p50_ms"] for r in results), "p99_ms": max(r["p99_ms"] for r in results),
            "non_2xx": sum(r["non_2xx"] for r in results)}


class NodeView:
    """What benchmarks.realtime.Subscribers needs of a server: one node's URL, the shared keys."""

    def __init__(self, cluster: LocalbaseNodes, index: int):
        self.url, self.anon_key, self.jwt_secret = cluster.nodes[index].url, cluster.anon_key, cluster.jwt_secret


async def realtime_phase(cluster: LocalbaseNodes, db, *, subscribers: int, rate: float, seconds: float) -> dict:
    n = len(cluster.nodes)
    groups = [Subscribers(NodeView(cluster, i), subscribers // n + (1 if i < subscribers % n else 0)) for i in range(n)]
    for g in groups:
        await g.__aenter__()
    try:
        await asyncio.sleep(1.0)
        sent: dict[str, float] = {}
        t0 = time.perf_counter()
        for i in range(int(rate * seconds)):
            body = f"so-{n}-{i}-{uuid.uuid4().hex[:4]}"
            sent[body] = time.perf_counter()
            await db.execute("insert into feed (body) values ($1)", body)
            await asyncio.sleep(max(0.0, t0 + (i + 1) / rate - time.perf_counter()))
        for g in groups:
            await g.wait_all(list(sent), timeout=120)
        took = time.perf_counter() - t0
        lat = [(t - sent[b]) * 1000 for g in groups for b in sent for t in g.arrivals[b]]
        return {"subscribers": subscribers, "changes": len(sent), "deliveries": len(lat),
                "deliveries_per_s": round(len(lat) / took), "p50_ms": round(pct(lat, 50), 2),
                "p99_ms": round(pct(lat, 99), 2)}
    finally:
        for g in groups:
            await g.__aexit__(None, None, None)


async def connections_per_node(db, n: int) -> dict[str, float]:
    """Localbase's sessions on the primary per node, by what holds them (a WAL sender is one of
    localbase-realtime's), and their total."""
    rows = await db.fetch("select split_part(application_name, ' ', 1) as app, count(*) as c from pg_stat_activity "
                          "where datname = current_database() and application_name like 'localbase%' "
                          "group by 1 order by 1")
    found = {r["app"]: round(r["c"] / n, 1) for r in rows}
    return {**found, "total": round(sum(found.values()), 1)}


async def run_nodes(pg: PostgresServer, n: int, owner: str, row: int, args) -> dict:
    cluster = LocalbaseNodes(PROJECT, n, postgres=pg, per_request=False)
    cluster.start(timeout=180)
    db = await asyncpg.connect(pg.url)
    try:
        await asyncio.sleep(2)
        meter = Meter(cluster, pg, await walsender_pids(db))
        connections = {"idle": await connections_per_node(db, n)}
        before = meter.snapshot()
        rest = await asyncio.to_thread(rest_phase, cluster, owner, row, seconds=args.seconds,
                                       connections=args.connections)
        rest_cpu = Meter.spent(before, meter.snapshot())
        connections["after_rest_load"] = await connections_per_node(db, n)
        requests = rest["requests_per_s"] * rest_cpu["seconds"]
        rest["cpu_ms_per_1k_requests"] = {"nodes": round(sum(rest_cpu["nodes"]) / requests * 1e6, 1),
                                          "postgres": round(rest_cpu["postgres"] / requests * 1e6, 1)}
        rest["cpu_per_node_s"] = rest_cpu["nodes"]
        before = meter.snapshot()
        realtime = await realtime_phase(cluster, db, subscribers=args.subscribers, rate=args.rate,
                                        seconds=args.seconds)
        rt_cpu = Meter.spent(before, meter.snapshot())
        changes, deliveries = realtime["changes"], realtime["deliveries"]
        realtime["cpu_ms_per_1k_deliveries_nodes"] = round(sum(rt_cpu["nodes"]) / deliveries * 1e6, 1)
        realtime["cpu_ms_per_1k_changes_postgres"] = round(rt_cpu["postgres"] / changes * 1e6, 1)
        realtime["cpu_ms_per_1k_changes_walsender_per_node"] = round(
            sum(rt_cpu["senders"].values()) / max(1, len(rt_cpu["senders"])) / changes * 1e6, 1)
        realtime["cpu_per_node_s"] = rt_cpu["nodes"]
        connections["after_realtime"] = await connections_per_node(db, n)
        return {"nodes": n, "rest": rest, "realtime": realtime, "connections_per_node": connections}
    finally:
        await db.close()
        cluster.cleanup()
        await forget_nodes(pg.url)


async def forget_nodes(url: str) -> None:
    """The next node count starts clean: the stopped nodes' slots and rows go (as the reaper would)."""
    db = await asyncpg.connect(url)
    try:
        await db.execute("select pg_drop_replication_slot(slot_name) from pg_replication_slots "
                         "where slot_name like 'localbase_realtime%' and not active")
        await db.execute("delete from localbase.nodes")
    finally:
        await db.close()


def project(measured: list[dict], node_cores: float, pg_cores: float, subscribers: int) -> dict:
    """On paper: N hosts of `node_cores` each, PostgreSQL alone on `pg_cores`, from the CPU per
    request / per change measured with one node (the load balancer and the network cost nothing)."""
    one = next(m for m in measured if m["nodes"] == 1)
    node_req = one["rest"]["cpu_ms_per_1k_requests"]["nodes"] / 1e6  # CPU seconds per request
    pg_req = one["rest"]["cpu_ms_per_1k_requests"]["postgres"] / 1e6
    node_delivery = one["realtime"]["cpu_ms_per_1k_deliveries_nodes"] / 1e6
    decode = one["realtime"]["cpu_ms_per_1k_changes_walsender_per_node"] / 1e6
    pg_change = max(0.0, one["realtime"]["cpu_ms_per_1k_changes_postgres"] / 1e6 - decode)
    usable = 0.8  # of the PostgreSQL host's cores
    rows = []
    for hosts in (1, 2, 4, 8, 16):
        by_nodes_rest, by_pg_rest = hosts * node_cores / node_req, usable * pg_cores / pg_req
        # changes/s with `subscribers` spread over the hosts: each node delivers to its share; the
        # primary commits each change once and decodes it once per node
        by_nodes = node_cores / (node_delivery * subscribers / hosts)
        by_pg = usable * pg_cores / (pg_change + hosts * decode)
        rows.append({"hosts": hosts, "rest_requests_per_s": round(min(by_nodes_rest, by_pg_rest)),
                     "rest_bound_by": "nodes" if by_nodes_rest < by_pg_rest else "postgres",
                     "realtime_changes_per_s": round(min(by_nodes, by_pg)),
                     "realtime_bound_by": "nodes" if by_nodes < by_pg else "postgres (decoding per node)"})
    return {"assumptions": {"node_host_cores": node_cores, "postgres_host_cores": pg_cores,
                            "postgres_cores_usable": usable, "subscribers": subscribers,
                            "costs": "CPU per request and per change as measured here with one node, under load",
                            "free": "the load balancer, the network, the clients"},
            "projection": rows}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", default="1,2,3")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=48)
    parser.add_argument("--subscribers", type=int, default=30)
    parser.add_argument("--rate", type=float, default=40.0)
    parser.add_argument("--node-cores", type=float, default=4.0)
    parser.add_argument("--pg-cores", type=float, default=16.0)
    args = parser.parse_args()
    counts = [int(c) for c in args.nodes.split(",")]
    pg = PostgresServer().start()
    console.print(f"[bold]scale-out[/bold] on {pg.version}, {os.cpu_count()} CPUs shared by everything")
    try:
        warm = LocalbaseNodes(PROJECT, 1, postgres=pg)  # migrations, then the seed rows
        warm.start(timeout=180)
        warm.cleanup()
        await forget_nodes(pg.url)
        owner, row = await seed(pg.url)
        measured = []
        for n in counts:
            result = await run_nodes(pg, n, owner, row, args)
            measured.append(result)
            r, rt = result["rest"], result["realtime"]
            console.print(f"{n} node(s): REST {r['requests_per_s']:,} req/s (p99 {r['p99_ms']} ms; node CPU "
                          f"{r['cpu_ms_per_1k_requests']['nodes']} ms/1k, PostgreSQL "
                          f"{r['cpu_ms_per_1k_requests']['postgres']} ms/1k) | realtime {rt['deliveries_per_s']:,} "
                          f"deliveries/s p50 {rt['p50_ms']} ms p99 {rt['p99_ms']} ms; decoding per node "
                          f"{rt['cpu_ms_per_1k_changes_walsender_per_node']} ms/1k changes | PostgreSQL sessions "
                          f"per node: {result['connections_per_node']['idle']['total']} idle, "
                          f"{result['connections_per_node']['after_rest_load']['total']} after the REST load")
        paper = project(measured, args.node_cores, args.pg_cores, args.subscribers) if 1 in counts else None
        if paper:
            for p in paper["projection"]:
                console.print(f"  on paper, {p['hosts']:>2} hosts: REST {p['rest_requests_per_s']:,} req/s "
                              f"({p['rest_bound_by']}), realtime {p['realtime_changes_per_s']:,} changes/s to "
                              f"{args.subscribers} subscribers ({p['realtime_bound_by']})")
        path = save("scale_out", {"postgres": pg.version, "measured_under_load": True,
                                  "settings": vars(args), "measured": measured, "paper": paper})
        console.print(f"[dim]{path}[/dim]")
    finally:
        pg.stop()


if __name__ == "__main__":
    asyncio.run(main())
