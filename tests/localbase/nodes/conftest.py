"""Several Localbase nodes (separate processes, data folders and ports) on one PostgreSQL server of
their own, behind a round-robin proxy (localbase.testing.nodes), driven by the official clients.

- `nodes`: three nodes shared by the tests that leave them running, signing users' tokens with one
  ES256 key ([auth] signing_keys_path: the same file on every node);
- tests that kill a node or need replicas start nodes of their own.
The nodes renew their lease every 0.5 s and count as gone after 3 s, so failures show quickly."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import asyncpg
import pytest

from localbase.security import signing_keys
from localbase.testing.nodes import LocalbaseNodes
from supabase import AsyncClientOptions, acreate_client

PROJECT = Path(__file__).parent / "project"
FAST = {"LOCALBASE_NODES_HEARTBEAT_SECONDS": "0.5", "LOCALBASE_NODES_LEASE_SECONDS": "3"}


@pytest.fixture(scope="session")
def nodes(tmp_path_factory):
    keys = tmp_path_factory.mktemp("signing") / "signing_keys.json"
    keys.write_text(json.dumps([signing_keys.generate("ES256")]))
    cluster = LocalbaseNodes(PROJECT, 3, env={**FAST, "LOCALBASE_AUTH_SIGNING_KEYS_PATH": str(keys)})
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.cleanup()


@contextlib.contextmanager
def on_node(cluster: LocalbaseNodes, index: int):
    """New connections through the proxy go to node `index` first while inside."""
    cluster.proxy.prefer = index  # type: ignore[union-attr]
    try:
        yield
    finally:
        cluster.proxy.prefer = None  # type: ignore[union-attr]


async def aclient(cluster: LocalbaseNodes, key: str | None = None):
    return await acreate_client(cluster.url, key or cluster.anon_key,
                                options=AsyncClientOptions(auto_refresh_token=False, persist_session=False))


async def sql(cluster: LocalbaseNodes, query: str, *args, fetch: str = "fetch"):
    conn = await asyncpg.connect(cluster.db_url)
    try:
        return await getattr(conn, fetch)(query, *args)
    finally:
        await conn.close()
