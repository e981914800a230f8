"""Auth benchmark: password sign-ins per second against raw bcrypt verifications per second of the
same cost on the same machine, in one run, and `GET /auth/v1/user` requests per second.

Side by side, on this machine:
  bcrypt   bcrypt.checkpw (cost of the server's config, 10 like GoTrue) in os.cpu_count() threads
  sign-in  POST /auth/v1/token?grant_type=password through HTTP keep-alive connections
           (JSON, rate-limit check, user lookup, bcrypt in a worker thread, session + refresh
           token rows, JWT signing)
  user     GET /auth/v1/user with a user's access token (JWT verify, user + session lookup)
The sign-in/bcrypt ratio shows what everything but hashing costs (target >= 0.85). Writes
benchmarks/results/auth.json.

    python benchmarks/auth.py [--seconds 8] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bcrypt
import httpx

from localbase.testing.server import LocalbaseProcess

RESULTS = Path(__file__).parent / "results"
PASSWORD = "bench-password-1"
COST = 10
CONFIG = """project_id = "auth-bench"
[auth]
jwt_expiry = 3600
enable_signup = true
[auth.email]
enable_confirmations = false
"""
NO_LIMITS = {f"LOCALBASE_AUTH_RATE_LIMIT_{name}": "0" for name in (
    "SIGN_IN_SIGN_UPS", "SIGN_IN_SIGN_UPS_PER_EMAIL", "TOKEN_REFRESH", "TOKEN_VERIFICATIONS")}


def raw_bcrypt(seconds: float, threads: int) -> dict:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(COST))
    stop = time.perf_counter() + seconds
    counts = [0] * threads

    def work(i: int) -> None:
        while time.perf_counter() < stop:
            assert bcrypt.checkpw(PASSWORD.encode(), hashed)
            counts[i] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    elapsed = time.perf_counter() - started
    return {"verifications_per_s": sum(counts) / elapsed, "threads": threads, "cost": COST}


async def _http_load(url: str, requests: list[bytes], seconds: float, connections: int) -> dict:
    """Keep-alive HTTP/1.1 connections, each sending its request in a loop. Minimal client so the
    load generator costs as little CPU as possible (it shares the machine with the server)."""
    host, port = url.split("//")[1].split(":")
    stop = time.perf_counter() + seconds
    statuses: dict[int, int] = {}
    latencies: list[float] = []

    async def worker(i: int) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        request = requests[i % len(requests)]
        try:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if length:
                    await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    ok = statuses.get(200, 0)
    pct = lambda p: round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2) if latencies else None  # noqa: E731
    return {"requests_per_s": ok / elapsed, "statuses": {str(k): v for k, v in statuses.items()},
            "connections": connections, "p50_ms": pct(0.5), "p99_ms": pct(0.99)}


def _request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    cpus = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="auth-bench-") as tmp:
        project = Path(tmp) / "project"
        (project / "supabase" / "migrations").mkdir(parents=True)
        (project / "supabase" / "config.toml").write_text(CONFIG)
        with LocalbaseProcess(project, Path(tmp) / "data", env=NO_LIMITS) as server:
            auth = f"{server.url}/auth/v1"
            admin = {"apikey": server.service_role_key, "Authorization": f"Bearer {server.service_role_key}"}
            emails = [f"bench{i}@example.com" for i in range(args.connections)]
            with httpx.Client() as http:
                for email in emails:
                    http.post(f"{auth}/admin/users", headers=admin,
                              json={"email": email, "password": PASSWORD, "email_confirm": True}).raise_for_status()
                token = http.post(f"{auth}/token?grant_type=password", headers={"apikey": server.anon_key},
                                  json={"email": emails[0], "password": PASSWORD}).json()["access_token"]
            common = {"apikey": server.anon_key, "Content-Type": "application/json"}
            sign_ins = [_request("POST", "/auth/v1/token?grant_type=password", common,
                                 json.dumps({"email": e, "password": PASSWORD}).encode()) for e in emails]
            get_user = [_request("GET", "/auth/v1/user", {**common, "Authorization": f"Bearer {token}"})]
            asyncio.run(_http_load(server.url, sign_ins, 1.0, args.connections))  # warm-up
            bcrypt_result = raw_bcrypt(args.seconds, cpus)
            signin_result = asyncio.run(_http_load(server.url, sign_ins, args.seconds, args.connections))
            user_result = asyncio.run(_http_load(server.url, get_user, args.seconds, args.connections))
    ratio = signin_result["requests_per_s"] / bcrypt_result["verifications_per_s"]
    result = {"benchmark": "auth", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "machine": {"cpus": cpus, "python": platform.python_version()},
              "seconds": args.seconds, "raw_bcrypt": bcrypt_result, "sign_in": signin_result,
              "signin_to_bcrypt_ratio": round(ratio, 3), "get_user": user_result}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "auth.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"raw bcrypt (cost {COST}, {cpus} threads): {bcrypt_result['verifications_per_s']:8.1f} verifications/s")
    print(f"sign-ins ({args.connections} connections):  {signin_result['requests_per_s']:8.1f} /s   "
          f"p50 {signin_result['p50_ms']} ms  p99 {signin_result['p99_ms']} ms  {signin_result['statuses']}")
    print(f"sign-in / bcrypt ratio:          {ratio:8.3f}   (target >= 0.85)")
    print(f"GET /auth/v1/user:               {user_result['requests_per_s']:8.1f} /s   "
          f"p50 {user_result['p50_ms']} ms  p99 {user_result['p99_ms']} ms  {user_result['statuses']}")
    print(f"results: {RESULTS / 'auth.json'}")


if __name__ == "__main__":
    main()
