"""Raw asyncpg running the SQL Localbase runs for a request file's reads, for benchmarks/vs_pocketbase.py.

Every request of the file is turned, once and up front, into what Localbase's REST stages would
make of it (the caller's role and claims from its JWT, the statement from parse -> plan -> sql);
then `concurrency` tasks replay them in turn straight through asyncpg, on a pool the size of the
server's, each request on the wire exactly as the server sends it (execute.transaction): so the
ratio Localbase / raw is what HTTP, the gateway and the pipeline's Python cost on top."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import asyncpg
import orjson

from benchmarks import cpu
from localbase.database.pool import AUTH_POOL_SIZE, init_connection, rest_pool, session_facts
from localbase.rest import execute, sql
from localbase.rest.parse import parse_request
from localbase.rest.plan import Planner
from localbase.rest.schema_cache import introspect
from localbase.testing.server import LocalbaseProcess

POOL_SIZE = 20  # the server's REST pool


@dataclass(frozen=True, slots=True)
class Prepared:
    caller: execute.Caller
    ctx: execute.Context
    statement: sql.Statement
    timeout: str | None  # the role's statement_timeout, as the server sets it


async def prepare(server: LocalbaseProcess, lines: list[str]) -> list[Prepared]:
    admin = await asyncpg.connect(server.db_url)
    try:
        schema = await introspect(admin, ("public",))
    finally:
        await admin.close()
    planner = Planner(schema, 1000)
    out = []
    for text in lines:
        method, target, head = text.split("\t")[:3]
        headers = line_headers(head)
        path, _, query = target.removeprefix("/rest/v1/").partition("?")
        req = parse_request(method, path, parse_qsl(query, keep_blank_values=True), headers, b"")
        statement = sql.read(planner.read(req), count=None, single=req.single, strip_nulls=False, head=False)
        wire_headers = {**headers, "host": "127.0.0.1"}
        ctx = execute.Context(method, "/" + path, orjson.dumps(wire_headers).decode())
        caller = execute.caller_from(headers.get("authorization"), server.jwt_secret)
        out.append(Prepared(caller, ctx, statement, schema.role_settings.get(caller.role, {}).get("statement_timeout")))
    return out


def line_headers(head: str) -> dict[str, str]:
    """A request file line's headers (benchmarks/wrk/requests.lua's `name: value\\n...`), names lower-cased."""
    return {k.lower(): v for k, _, v in (h.partition(": ") for h in head.split("\\n"))}


def dsn(server: LocalbaseProcess, role: str = "authenticator") -> str:
    """The server reaches PostgreSQL over its Unix socket; so does the baseline. `role`: the one the
    server's pool logs in as (REST: authenticator; Auth: supabase_auth_admin)."""
    socket_dir = server.data_dir / "run"
    if socket_dir.exists():
        return f"postgresql://{role}@/postgres?host={socket_dir}&port={server.db_port}"
    return f"postgresql://{role}@127.0.0.1:{server.db_port}/postgres"


async def _replay(server: LocalbaseProcess, requests: list[Prepared], seconds: float, concurrency: int) -> dict:
    pool = await rest_pool(dsn(server), POOL_SIZE, min_size=POOL_SIZE).open()
    async with pool.acquire() as conn:
        session, timeout = await session_facts(conn)
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def read(conn: asyncpg.Connection, p: Prepared) -> asyncpg.Record:
        if session:  # as execute.read_session: the context for the session, then the statement alone
            await conn.fetchval(execute.SET_READ_SESSION, p.caller.role, p.caller.claims_json, p.ctx.method,
                                p.ctx.path, p.ctx.headers_json, p.ctx.search_path, p.timeout or timeout)
            return await conn.fetchrow(p.statement.sql, *p.statement.args)
        async with conn.transaction(readonly=True):  # as execute.transaction
            await conn.fetchval(execute.SET_CONTEXT_WITH_TIMEOUT, p.caller.role, p.caller.claims_json, p.ctx.method,
                                p.ctx.path, p.ctx.headers_json, p.ctx.search_path, p.timeout or timeout)
            return await conn.fetchrow(p.statement.sql, *p.statement.args)

    async def worker(start: int) -> None:
        i = start
        while time.perf_counter() < stop_at:
            p = requests[i % len(requests)]
            i += 1
            t0 = time.perf_counter()
            async with pool.acquire() as conn:  # the server's pool: its gate admits POOL_SIZE
                row = await read(conn, p)
            if row["page_total"] < 1:
                raise AssertionError("the baseline read no row: not the server's workload")
            latencies.append(time.perf_counter() - t0)

    return await _measured(server, pool, [worker(k * 7919) for k in range(concurrency)], latencies)


async def _measured(server: LocalbaseProcess, pool, workers: list[Coroutine[Any, Any, None]],
                    latencies: list[float]) -> dict:
    """Runs `workers` to their end, then closes `pool`: the answers' figures and `cpu_s`, the CPU
    seconds this process and the server's PostgreSQL used meanwhile, the pool's backends among them
    (cpu.py loses a process that ends during a measure: they are closed after it)."""
    assert server.process is not None
    pids = [os.getpid(), *cpu.postgres(server.process.pid)]
    before = cpu.snapshot(pids)
    started = time.perf_counter()
    try:
        await asyncio.gather(*workers)
        elapsed = time.perf_counter() - started
        used = cpu.used(before, cpu.snapshot(pids))
    finally:
        await pool.close()
    return {**_result(latencies, elapsed), "cpu_s": used}


def _result(latencies: list[float], elapsed: float) -> dict:
    latencies.sort()
    pick = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 3)  # noqa: E731
    per_s = round(len(latencies) / elapsed, 1)
    return {"requests_per_s": per_s, "ok_per_s": per_s, "ok": len(latencies), "p50_ms": pick(0.5), "p90_ms": pick(0.9),
            "p99_ms": pick(0.99), "non_2xx": 0}


async def _replay_refresh(server: LocalbaseProcess, tokens: list[str], seconds: float, concurrency: int) -> dict:
    """`concurrency` tasks, each rotating refresh tokens from one of `tokens` on: the one statement of a
    refresh (auth/sessions.REFRESH, rotation on, the server's reuse interval), as the server sends it
    on its Auth pool; none of the rest (HTTP, the JWT signed, the answer built)."""
    from localbase.auth import sessions
    from localbase.auth import tokens as auth_tokens
    from localbase.auth.config import AuthConfig

    # the server's reuse interval: vs_sides' config.toml sets none, so the default
    interval = float(AuthConfig.__dataclass_fields__["refresh_token_reuse_interval"].default)
    pool = await asyncpg.create_pool(dsn(server, "supabase_auth_admin"), min_size=AUTH_POOL_SIZE,
                                     max_size=AUTH_POOL_SIZE, init=init_connection)
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def worker(token: str) -> None:
        while time.perf_counter() < stop_at:
            child = auth_tokens.new_refresh_token()
            t0 = time.perf_counter()
            async with pool.acquire() as conn:
                row = await conn.fetchrow(sessions.REFRESH, auth_tokens.digest(token), auth_tokens.digest(child),
                                          True, interval)
            if row is None or row["refresh_verdict"] != "ok":
                raise AssertionError(f"the baseline's refresh was refused: {row and row['refresh_verdict']}")
            latencies.append(time.perf_counter() - t0)
            token = child

    return await _measured(server, pool, [worker(tokens[k % len(tokens)]) for k in range(concurrency)], latencies)


def _run(coroutine):
    import uvloop  # the server runs on uvloop; so does the baseline

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def replay(server: LocalbaseProcess, requests: list[Prepared], seconds: float, concurrency: int) -> dict:
    return _run(_replay(server, requests, seconds, concurrency))


def replay_refresh(server: LocalbaseProcess, tokens: list[str], seconds: float, concurrency: int) -> dict:
    """Refreshes from `tokens` (one per task: `concurrency` of them, each signed in anew)."""
    if len(tokens) < concurrency:
        raise ValueError("one refresh token per task: a rotated token is spent")
    return _run(_replay_refresh(server, tokens, seconds, concurrency))
