"""Database -> Kafka: committed changes of published tables, in the shape Realtime delivers, keyed,
with their commit LSN; nothing of a rolled-back transaction; one key's changes in commit order."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from tests.localbase.bridge.conftest import read_topic
from tests.localbase.helpers import sql


def _for(account: str):
    return lambda m: m.key == account.encode()


async def test_committed_changes_arrive_as_realtime_delivers_them(bridge_server, kafka_broker):
    account = f"acct-{uuid.uuid4().hex[:8]}"
    sql(bridge_server, "insert into ledger (account, n, note) values ($1, 1, 'first')", account)
    sql(bridge_server, "update ledger set n = 2, note = 'second' where account = $1", account)
    sql(bridge_server, "delete from ledger where account = $1", account)
    got = await read_topic(kafka_broker.bootstrap, "bridge.ledger",
                           lambda ms: len(list(filter(_for(account), ms))) >= 3)
    mine = [m for m in got if m.key == account.encode()]
    assert [m.json()["type"] for m in mine] == ["INSERT", "UPDATE", "DELETE"]
    insert, update, delete = (m.json() for m in mine)
    assert insert["schema"] == "public" and insert["table"] == "ledger" and insert["errors"] is None
    assert insert["record"]["n"] == 1 and isinstance(insert["record"]["id"], int) and insert["old_record"] == {}
    assert {"name": "n", "type": "int4"} in insert["columns"]
    assert insert["commit_timestamp"].endswith("Z")
    assert update["record"]["note"] == "second" and update["old_record"]["note"] == "first"
    assert delete["record"] == {} and delete["old_record"]["account"] == account
    assert len({m.partition for m in mine}) == 1  # one key, one partition
    lsns = [m.headers["lsn"] for m in mine]
    assert len(set(lsns)) == 3 and all("/" in lsn for lsn in lsns)
    assert [m.headers["table"] for m in mine] == ["public.ledger"] * 3
    assert [m.headers["type"] for m in mine] == ["INSERT", "UPDATE", "DELETE"]


async def test_other_tables_go_to_their_schema_route_keyed_by_primary_key(bridge_server, kafka_broker):
    note_id = uuid.uuid4()
    sql(bridge_server, "insert into notes (id, body) values ($1, 'hi')", note_id)
    got = await read_topic(kafka_broker.bootstrap, "bridge.public.notes",
                           lambda ms: any(m.key == str(note_id).encode() for m in ms))
    [mine] = [m for m in got if m.key == str(note_id).encode()]
    assert mine.json()["record"] == {"id": str(note_id), "body": "hi"}


async def test_a_rolled_back_transaction_produces_nothing(bridge_server, kafka_broker):
    account = f"rb-{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(bridge_server.db_url)
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("insert into ledger (account, n, note) values ($1, 1, 'rolled back')", account)
        await conn.execute("insert into ledger (account, n, note) values ($1, 2, 'rolled back')", account)
        await tx.rollback()
        await conn.execute("insert into ledger (account, n, note) values ($1, 3, 'committed')", account)
    finally:
        await conn.close()
    got = await read_topic(kafka_broker.bootstrap, "bridge.ledger", lambda ms: any(map(_for(account), ms)))
    await asyncio.sleep(0.5)  # anything else would have come with or before the committed row
    got = await read_topic(kafka_broker.bootstrap, "bridge.ledger", lambda ms: len(ms) >= len(got))
    assert [m.json()["record"]["note"] for m in got if m.key == account.encode()] == ["committed"]


async def test_each_key_keeps_commit_order_under_concurrent_writers(bridge_server, kafka_broker):
    accounts = [f"ord-{uuid.uuid4().hex[:6]}-{i}" for i in range(4)]
    rounds = 40

    async def writer(account: str) -> None:
        conn = await asyncpg.connect(bridge_server.db_url)
        try:
            await conn.execute("insert into ledger (account, n) values ($1, 0)", account)
            for n in range(1, rounds + 1):
                await conn.execute("update ledger set n = $2 where account = $1", account, n)
        finally:
            await conn.close()

    await asyncio.gather(*(writer(a) for a in accounts))
    wanted = {a.encode() for a in accounts}
    got = await read_topic(kafka_broker.bootstrap, "bridge.ledger",
                           lambda ms: sum(m.key in wanted for m in ms) >= len(accounts) * (rounds + 1), timeout=30)
    for account in accounts:
        mine = [m for m in got if m.key == account.encode()]
        assert [m.json()["record"]["n"] for m in mine] == list(range(rounds + 1)), account
    for partition in {m.partition for m in got}:  # within a partition, commit (LSN) order
        in_partition = [m for m in got if m.partition == partition and m.key in wanted]
        positions = [_lsn(m.headers["lsn"]) for m in sorted(in_partition, key=lambda m: m.offset)]
        assert positions == sorted(positions)


def _lsn(text: str) -> int:
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)
