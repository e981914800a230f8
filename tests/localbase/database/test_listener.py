"""The shared LISTEN connection (database/listener.py) on a real PostgreSQL: each channel's
notifications reach its subscribers only, one connection listens for all, a lost connection is
opened again and every subscriber told (so it can catch up), a removed subscription hears nothing,
and one subscriber's failure does not silence the others. On a running server, REST's schema cache
and pg_net's sender share it."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from postgrest.exceptions import APIError

from localbase.database.listener import Listener
from supabase import AsyncClientOptions, acreate_client


async def _until(check, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


@pytest.fixture
async def admin(localbase_server):
    conn = await asyncpg.connect(localbase_server.db_url)
    try:
        yield conn
    finally:
        await conn.close()


async def _listening(admin, name: str) -> list[int]:
    return [r["pid"] for r in await admin.fetch(
        "select pid from pg_stat_activity where application_name = $1", name)]


async def test_each_channel_reaches_its_subscribers_over_one_connection(localbase_server, admin):
    listener = Listener(localbase_server.db_url, "test-listener-a")
    got: dict[str, list[str]] = {"a": [], "b": [], "b2": []}
    connects: list[bool] = []
    try:
        await listener.listen("chan_a", got["a"].append, connects.append)
        await listener.listen("chan_b", got["b"].append)
        await _until(lambda: connects == [False])
        await listener.listen("chan_b", got["b2"].append)
        await admin.execute("select pg_notify('chan_a', 'one'), pg_notify('chan_b', 'two'), pg_notify('other', 'x')")
        await _until(lambda: got["a"] and got["b"] and got["b2"])
        assert got == {"a": ["one"], "b": ["two"], "b2": ["two"]}
        assert len(await _listening(admin, "test-listener-a")) == 1
    finally:
        await listener.stop()
    for _ in range(50):  # the backend ends just after the client closes
        if not await _listening(admin, "test-listener-a"):
            break
        await asyncio.sleep(0.05)
    assert await _listening(admin, "test-listener-a") == []


async def test_a_lost_connection_is_opened_again_and_every_subscriber_told(localbase_server, admin):
    listener = Listener(localbase_server.db_url, "test-listener-b")
    got: list[str] = []
    connects: list[bool] = []
    try:
        await listener.listen("chan_c", got.append, connects.append)
        await _until(lambda: connects == [False])
        [pid] = await _listening(admin, "test-listener-b")
        await admin.execute("select pg_terminate_backend($1)", pid)
        await _until(lambda: connects == [False, True])
        [again] = await _listening(admin, "test-listener-b")
        assert again != pid
        await admin.execute("select pg_notify('chan_c', 'after')")
        await _until(lambda: got == ["after"])
    finally:
        await listener.stop()


async def test_a_removed_subscription_hears_nothing_and_a_failing_one_silences_no_other(localbase_server, admin):
    listener = Listener(localbase_server.db_url, "test-listener-c")
    kept: list[str] = []
    removed: list[str] = []

    def broken(_payload: str) -> None:
        raise RuntimeError("a subscriber's bug")

    try:
        await listener.listen("chan_d", broken)
        await listener.listen("chan_d", kept.append)
        remove = await listener.listen("chan_e", removed.append)
        await _until(lambda: listener._conn is not None)
        await remove()
        await admin.execute("select pg_notify('chan_d', 'to kept'), pg_notify('chan_e', 'to removed')")
        await _until(lambda: kept == ["to kept"])
        await asyncio.sleep(0.2)
        assert removed == []
    finally:
        await listener.stop()


async def test_a_server_listens_for_its_services_on_one_connection(localbase_server, admin):
    names = [r["application_name"] for r in await admin.fetch(
        "select application_name from pg_stat_activity where backend_type = 'client backend'")]
    assert names.count("localbase-listener") == 1 and "localbase-schema-listener" not in names
    assert names.count("localbase-net") <= 1  # pg_net's lanes' one pooled connection; no listener of its own
    # both services still hear their channels through it: a schema reload, and a pg_net request
    await admin.execute("create table public.listener_probe (id int primary key)")
    await admin.execute("grant select on public.listener_probe to anon")
    await admin.execute("notify pgrst, 'reload schema'")
    client = await acreate_client(localbase_server.url, localbase_server.anon_key,
                                  options=AsyncClientOptions(auto_refresh_token=False, persist_session=False))
    for _ in range(100):  # the new table is unknown (PGRST205) until the schema cache reloads
        try:
            answer = await client.table("listener_probe").select("id").execute()
            break
        except APIError as exc:
            assert exc.code == "PGRST205", exc
            await asyncio.sleep(0.05)
    else:
        raise AssertionError("the schema cache did not reload on NOTIFY pgrst")
    assert answer.data == []
    rid = await admin.fetchval("select net.http_get($1)", f"{localbase_server.url}/rest/v1/")
    for _ in range(200):
        status = await admin.fetchval("select status_code from net._http_response where id = $1", rid)
        if status is not None:
            break
        await asyncio.sleep(0.05)
    assert status is not None
    await admin.execute("drop table public.listener_probe")
