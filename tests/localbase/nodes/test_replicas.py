"""Read replicas (--db-read-url / LOCALBASE_DB_READ_URLS): two nodes on a primary with a real
streaming replica (pg_basebackup -R). The view public.served_by says which server answered a read
(pg_is_in_recovery()). Replay on the replica is paused to make staleness visible: a read the rule
sent to the replica would then miss the write."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import asyncpg
import httpx
import pytest

from localbase.testing.nodes import LocalbaseNodes
from localbase.testing.postgres import PostgresServer
from tests.localbase.nodes.conftest import FAST, PROJECT

MAX_LAG = 2.0


@pytest.fixture(scope="module")
def replicated():
    primary = PostgresServer().start()
    replica = PostgresServer(primary=primary).start()
    cluster = LocalbaseNodes(PROJECT, 2, postgres=primary, env={
        **FAST, "LOCALBASE_DB_READ_URLS": replica.url, "LOCALBASE_DB_READ_MAX_LAG_SECONDS": str(MAX_LAG),
        "LOCALBASE_DB_READ_YOUR_WRITES_SECONDS": "5"})
    try:
        cluster.start()
        yield cluster, replica
    finally:
        cluster.cleanup()
        replica.stop()
        primary.stop()


def user(cluster) -> dict[str, str]:
    """A signed-up user's headers (its access token carries a session_id of its own)."""
    r = httpx.post(f"{cluster.url}/auth/v1/signup", headers={"apikey": cluster.anon_key},
                   json={"email": f"r-{uuid.uuid4().hex[:8]}@example.com", "password": "correct-horse-1"})
    assert r.status_code == 200, r.text
    return {"apikey": cluster.anon_key, "authorization": f"Bearer {r.json()['access_token']}"}


def served_by(base: str, headers: dict[str, str], **extra: str) -> bool:
    """True when a standby answered."""
    r = httpx.get(f"{base}/rest/v1/served_by?select=standby", headers={**headers, **extra})
    assert r.status_code == 200, r.text
    return r.json()[0]["standby"]


async def replay(replica: PostgresServer, on: bool) -> None:
    conn = await asyncpg.connect(replica.url)
    try:
        await conn.execute("select pg_wal_replay_resume()" if on else "select pg_wal_replay_pause()")
    finally:
        await conn.close()


def eventually_standby(base: str, headers: dict[str, str], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not served_by(base, headers):
        assert time.monotonic() < deadline, "reads never reached the replica"
        time.sleep(0.2)


async def test_reads_go_to_a_fresh_replica_and_writes_to_the_primary(replicated):
    cluster, _ = replicated
    reader = user(cluster)
    eventually_standby(cluster.url, reader)
    hits = [served_by(cluster.url, reader) for _ in range(6)]  # both nodes: each request to the next
    assert all(hits), hits
    assert served_by(cluster.url, reader, prefer="tx=commit") is False  # Prefer: tx=... stays on the primary
    text = httpx.get(f"{cluster.nodes[0].url}/metrics", headers={"apikey": cluster.service_role_key}).text
    replica_reads = re.search(r'^localbase_rest_reads_total\{target="replica"\} (\S+)$', text, re.M)
    assert replica_reads and float(replica_reads.group(1)) >= 3, text
    lag = re.search(r'^localbase_read_replica_lag_seconds\{replica="0"\} (\S+)$', text, re.M)
    assert lag and 0 <= float(lag.group(1)) < MAX_LAG, text


async def test_a_session_reads_its_own_writes_and_staleness_is_bounded(replicated):
    cluster, replica = replicated
    writer, other = user(cluster), user(cluster)
    for headers in (writer, other):
        eventually_standby(cluster.url, headers)
    await replay(replica, False)
    try:
        r = httpx.post(f"{cluster.nodes[0].url}/rest/v1/items", headers={**writer, "prefer": "return=minimal"},
                       json={"body": "mine"})
        assert r.status_code == 201, r.text
        # its next reads, on this node and on the other (told through NOTIFY), see the write: the primary
        for node in (cluster.nodes[0], cluster.nodes[1]):
            r = httpx.get(f"{node.url}/rest/v1/items?select=body", headers=writer)
            assert r.json() == [{"body": "mine"}], (node.url, r.text)
            assert served_by(node.url, writer) is False
        # a session that did not write may read the replica while it is less than MAX_LAG behind...
        assert served_by(cluster.url, other) is True
        await asyncio.sleep(MAX_LAG + 0.5)
        # ...and not once it is further behind
        assert served_by(cluster.url, other) is False
        assert served_by(cluster.url, writer) is False
    finally:
        await replay(replica, True)
    eventually_standby(cluster.url, other)
    eventually_standby(cluster.url, writer)  # caught up past the write: the replica serves it again
    r = httpx.get(f"{cluster.url}/rest/v1/items?select=body", headers=writer)
    assert r.json() == [{"body": "mine"}]


async def test_reads_fall_back_to_the_primary_when_the_replica_is_gone(replicated):
    cluster, replica = replicated
    reader = user(cluster)
    eventually_standby(cluster.url, reader)
    replica.stop()
    answers = [httpx.get(f"{cluster.url}/rest/v1/served_by?select=standby", headers=reader) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
    assert [a.json()[0]["standby"] for a in answers] == [False] * 6
