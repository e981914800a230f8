"""Functions: a TypeScript Edge Function (Deno worker) side by side with the same Python function.

    python benchmarks/functions.py [--requests 400] [--concurrency 16]

Both echo a small JSON body behind JWT verification, on one server. Measured:
- cold start: the first request on a fresh server (TypeScript: an empty DENO_DIR, so deno also
  transpiles), then the first request after each edit (worker restart / module reload);
- sequential latency (p50/p90/p99), the two functions interleaved request by request;
- throughput at N concurrent requests;
- the deno worker's resident memory.
Writes benchmarks/results/functions.json."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from common import console, save  # noqa: E402

from localbase.testing.server import LocalbaseProcess  # noqa: E402

PY = '''async def handler(request):
    body = await request.json()
    return {"echo": body, "runtime": "python"}
'''
TS = '''Deno.serve(async (req: Request) => {
  const body = await req.json();
  return Response.json({ echo: body, runtime: "deno", pid: Deno.pid });
});
'''
BODY = {"name": "Ada", "items": [1, 2, 3]}


def _project(root: Path) -> None:
    (root / "supabase" / "migrations").mkdir(parents=True)
    for name, entry, code in (("echo-py", "index.py", PY), ("echo-ts", "index.ts", TS)):
        (root / "supabase" / "functions" / name).mkdir(parents=True)
        (root / "supabase" / "functions" / name / entry).write_text(code)


def _pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000, 2)


def _timed(client: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    r = client.post(url, json=BODY)
    elapsed = time.perf_counter() - started
    assert r.status_code == 200, r.text
    return elapsed


def _edit(path: Path, bump: int) -> None:
    os.utime(path, (time.time() + bump, time.time() + bump))


async def _throughput(url: str, headers: dict[str, str], total: int, concurrency: int) -> float:
    async with httpx.AsyncClient(headers=headers, timeout=60,
                                 limits=httpx.Limits(max_connections=concurrency)) as client:
        queue = iter(range(total))

        async def worker() -> None:
            for _ in queue:
                r = await client.post(url, json=BODY)
                assert r.status_code == 200, r.text

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return total / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--restarts", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lb-bench-fn-") as folder:
        root = Path(folder)
        _project(root)
        server = LocalbaseProcess(root)
        server.start()
        try:
            headers = {"Authorization": f"Bearer {server.anon_key}"}
            url = {lang: f"{server.url}/functions/v1/echo-{lang}" for lang in ("py", "ts")}
            entry = {"py": root / "supabase/functions/echo-py/index.py",
                     "ts": root / "supabase/functions/echo-ts/index.ts"}
            result: dict = {"requests": args.requests, "concurrency": args.concurrency}
            with httpx.Client(headers=headers, timeout=60) as client:
                first = {lang: _timed(client, url[lang]) for lang in ("ts", "py")}
                restarts: dict[str, list[float]] = {"py": [], "ts": []}
                for i in range(args.restarts):
                    for lang in ("ts", "py"):
                        _edit(entry[lang], i + 1)
                        restarts[lang].append(_timed(client, url[lang]))
                for lang in ("ts", "py"):  # warm up
                    for _ in range(20):
                        _timed(client, url[lang])
                samples: dict[str, list[float]] = {"py": [], "ts": []}
                for _ in range(args.requests):
                    for lang in ("ts", "py"):
                        samples[lang].append(_timed(client, url[lang]))
                pid = client.post(url["ts"], json=BODY).json()["pid"]
            for lang in ("py", "ts"):
                result[lang] = {
                    "first_request_ms": round(first[lang] * 1000, 1),
                    "after_edit_ms_median": round(statistics.median(restarts[lang]) * 1000, 1),
                    "p50_ms": _pct(samples[lang], 0.50), "p90_ms": _pct(samples[lang], 0.90),
                    "p99_ms": _pct(samples[lang], 0.99),
                    "requests_per_s": round(asyncio.run(_throughput(url[lang], headers, args.requests,
                                                                    args.concurrency)), 1),
                }
            result["ts"]["worker_rss_mb"] = round(psutil.Process(pid).memory_info().rss / 2**20, 1)
            result["ratios_ts_over_py"] = {
                key: round(result["ts"][key] / result["py"][key], 2)
                for key in ("first_request_ms", "after_edit_ms_median", "p50_ms", "p99_ms", "requests_per_s")}
        finally:
            server.cleanup()
    for lang in ("py", "ts"):
        console.print(f"[bold]{lang}[/bold] {result[lang]}")
    console.print(f"[bold]ts / py[/bold] {result['ratios_ts_over_py']}")
    console.print(f"wrote {save('functions', result)}")


if __name__ == "__main__":
    main()
