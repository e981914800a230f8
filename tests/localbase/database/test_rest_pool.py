"""REST's connection pool on a real PostgreSQL: the connection used last is handed out next, a
connection a request left half done (in a transaction, cancelled mid-statement, closed by the
server) is never handed on, at most `size` are in use (a fair wait, then GateTimeout), idle ones
are closed down to min_size, and close() waits for those in use."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from localbase.database.gate import GateTimeout
from localbase.database.pool import UNAVAILABLE, rest_pool
from localbase.database.rest_pool import RestPool


@pytest.fixture
def dsn(localbase_server) -> str:
    socket_dir = localbase_server.data_dir / "run"
    return f"postgresql://authenticator@/postgres?host={socket_dir}&port={localbase_server.db_port}"


@pytest.fixture
async def pool(dsn):
    made = await rest_pool(dsn, 3, wait_timeout=0.5).open()
    try:
        yield made
    finally:
        await made.close()


async def _pid(pool: RestPool) -> int:
    async with pool.acquire() as conn:
        return await conn.fetchval("select pg_backend_pid()")


async def test_the_connection_released_last_is_handed_out_next(pool):
    assert (pool.get_size(), pool.get_idle_size(), pool.get_max_size()) == (1, 1, 3)
    async with pool.acquire() as a, pool.acquire() as b:
        pids = {await a.fetchval("select pg_backend_pid()"), await b.fetchval("select pg_backend_pid()")}
        assert (pool.get_size(), pool.get_idle_size()) == (2, 0)
        last = a  # the leases end in reverse: b first, then a
    assert len(pids) == 2 and pool.get_idle_size() == 2
    async with pool.acquire() as again:
        assert again is last  # warm: its prepared statements and caches are there


async def test_a_connection_left_in_a_transaction_is_terminated_not_reused(pool):
    async with pool.acquire() as conn:
        await conn.execute("begin")
        await conn.execute("select set_config('request.jwt.claims', '{\"sub\":\"left over\"}', true)")
        left = conn
    assert left.is_closed()
    async with pool.acquire() as conn:
        assert conn is not left
        assert not conn.is_in_transaction()
        assert await conn.fetchval("select current_setting('request.jwt.claims', true)") in (None, "")


async def test_a_statement_cancelled_midway_does_not_leave_its_connection_to_the_next_request(pool):
    started = asyncio.Event()

    async def slow() -> None:
        async with pool.acquire() as conn:
            started.set()
            await conn.execute("select pg_sleep(30)")

    task = asyncio.create_task(slow())
    await started.wait()
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(5), pool.acquire() as conn:  # answers now, not after the sleep
        assert await conn.fetchval("select 1") == 1
    assert pool.gate._free == 3


async def test_a_connection_the_server_closed_is_not_handed_out_again(pool, localbase_server):
    victim = await _pid(pool)
    admin = await asyncpg.connect(localbase_server.db_url)
    try:
        assert await admin.fetchval("select pg_terminate_backend($1)", victim)
        await asyncio.sleep(0.3)  # the server's goodbye has arrived: asyncpg marks the connection closed
    finally:
        await admin.close()
    assert await _pid(pool) != victim
    assert pool.get_size() == 1 and pool.gate._free == 3


async def test_a_connection_that_breaks_in_use_fails_its_request_and_is_dropped(pool, localbase_server):
    async with pool.acquire() as conn:
        victim = await conn.fetchval("select pg_backend_pid()")
        admin = await asyncpg.connect(localbase_server.db_url)
        try:
            await admin.fetchval("select pg_terminate_backend($1)", victim)
        finally:
            await admin.close()
        with pytest.raises(UNAVAILABLE + (asyncpg.InterfaceError,)):
            await conn.fetchval("select pg_sleep(0.2)")
    assert await _pid(pool) != victim
    assert pool.gate._free == 3


async def test_at_most_size_in_use_then_a_fair_wait_then_gate_timeout(pool):
    order: list[int] = []
    held = [pool.acquire() for _ in range(3)]
    conns = [await lease.__aenter__() for lease in held]
    assert pool.get_size() == 3

    async def waiter(i: int) -> None:
        async with pool.acquire():
            order.append(i)
            await asyncio.sleep(0.05)

    waiting = [asyncio.create_task(waiter(i)) for i in range(2)]
    await asyncio.sleep(0.05)
    assert order == [] and len(pool.gate._waiters) == 2
    await held[0].__aexit__(None, None, None)
    await asyncio.gather(*waiting)
    assert order == [0, 1] and pool.get_size() == 3  # no fourth connection was opened
    with pytest.raises(GateTimeout):
        async with pool.acquire(), pool.acquire(), pool.acquire():
            pass  # two are still held: the third waits 0.5 s
    for lease in held[1:]:
        await lease.__aexit__(None, None, None)
    assert all(not c.is_closed() for c in conns[1:]) and pool.gate._free == 3


async def test_idle_connections_are_closed_down_to_min_size(dsn):
    pool = await RestPool(dsn, 4, min_size=1, idle_seconds=0.4).open()
    try:
        leases = [pool.acquire() for _ in range(3)]
        conns = [await lease.__aenter__() for lease in leases]
        for lease in leases:
            await lease.__aexit__(None, None, None)
        assert pool.get_size() == 3
        await asyncio.sleep(1.2)
        assert pool.get_size() == 1
        assert sum(c.is_closed() for c in conns) == 2
        assert await _pid(pool)  # the one kept still answers
    finally:
        await pool.close()


async def test_close_waits_for_the_connections_in_use(pool):
    lease = pool.acquire()
    conn = await lease.__aenter__()
    closing = asyncio.create_task(pool.close())
    await asyncio.sleep(0.1)
    assert not closing.done()
    assert await conn.fetchval("select 1") == 1  # still usable until it comes back
    await lease.__aexit__(None, None, None)
    await asyncio.wait_for(closing, 5)
    assert conn.is_closed()
    with pytest.raises(asyncpg.InterfaceError):
        async with pool.acquire():
            pass
