"""Starting several nodes on one database: migrations and the seed once, each node its own
replication slot and membership row, the login roles' passwords agreed, and a node that would
clash (same id, other keys) refused with the reason."""

from __future__ import annotations

import uuid

import httpx
import jwt
import pytest

from localbase.testing.nodes import keys_env, shared_keys
from localbase.testing.server import LocalbaseProcess
from supabase import ClientOptions, create_client
from tests.localbase.nodes.conftest import PROJECT, sql


async def test_nodes_started_together_apply_migrations_and_the_seed_once(nodes):
    assert [r["version"] for r in await sql(nodes, "select version from supabase_migrations.schema_migrations")] \
        == ["20250101000000"]
    assert await sql(nodes, "select count(*) from public.seed_runs", fetch="fetchval") == 1
    banners = [n.output() for n in nodes.nodes]
    assert sum("(1 migration(s) applied, seed applied, node n" in b for b in banners) == 1, banners
    assert sum("(0 migration(s) applied, node n" in b for b in banners) == 2, banners


async def test_each_node_streams_its_own_slot_and_agrees_on_the_keys(nodes):
    members = await sql(nodes, "select node, worker, slot, alive, keys from localbase.node_status order by node")
    assert [(m["node"], m["worker"], m["slot"], m["alive"]) for m in members] == [
        ("n0", 0, "localbase_realtime_n0", True), ("n1", 0, "localbase_realtime_n1", True),
        ("n2", 0, "localbase_realtime_n2", True)]
    assert len({m["keys"] for m in members}) == 1
    slots = await sql(nodes, "select slot_name, active from pg_replication_slots order by 1")
    assert [(s["slot_name"], s["active"]) for s in slots] == [
        ("localbase_realtime_n0", True), ("localbase_realtime_n1", True), ("localbase_realtime_n2", True)]


def test_every_node_serves_rest_as_the_login_roles_whose_passwords_they_agree_on(nodes):
    """Each node set the login roles' passwords as it started (derived from the database URL):
    had they differed, the nodes started first could no longer connect."""
    for node in nodes.nodes:
        r = httpx.get(f"{node.url}/rest/v1/ticks?select=id&limit=1", headers={"apikey": nodes.anon_key})
        assert r.status_code == 200, r.text
        assert httpx.get(f"{node.url}/health").json()["node"] in ("n0", "n1", "n2")


def test_a_users_session_from_one_node_is_honoured_by_every_node(nodes):
    """The nodes sign with the same [auth] signing key (ES256): a session started on one node is
    verified by each node's Auth and REST, refreshed on another, and every node publishes one JWKS."""
    first = create_client(nodes.nodes[0].url, nodes.anon_key,
                          options=ClientOptions(auto_refresh_token=False, persist_session=False))
    session = first.auth.sign_up({"email": f"node-{uuid.uuid4().hex[:8]}@example.com",
                                  "password": "correct-horse-1"}).session
    assert session is not None and jwt.get_unverified_header(session.access_token)["alg"] == "ES256"
    jwks = [httpx.get(f"{node.url}/auth/v1/.well-known/jwks.json").json() for node in nodes.nodes]
    assert jwks[0]["keys"] and jwks[1] == jwks[0] and jwks[2] == jwks[0]
    for node in nodes.nodes:
        headers = {"apikey": nodes.anon_key, "Authorization": f"Bearer {session.access_token}"}
        assert httpx.get(f"{node.url}/auth/v1/user", headers=headers).json()["id"] == session.user.id
        wrote = httpx.post(f"{node.url}/rest/v1/items", headers={**headers, "Prefer": "return=representation"},
                           json={"body": node.url})
        assert wrote.status_code == 201 and wrote.json()[0]["owner"] == session.user.id, wrote.text
    last = create_client(nodes.nodes[2].url, nodes.anon_key,
                         options=ClientOptions(auto_refresh_token=False, persist_session=False))
    refreshed = last.auth.refresh_session(session.refresh_token).session
    assert refreshed is not None and refreshed.user.id == session.user.id


def _refused(nodes, tmp_path, env: dict[str, str]) -> str:
    node = LocalbaseProcess(PROJECT, tmp_path / "data", env={**nodes.env, **env},
                            extra_args=["--db-url", nodes.db_url])
    with pytest.raises(RuntimeError) as refused:
        node.start(timeout=90)
    node.cleanup()
    return str(refused.value)


def test_a_node_with_other_keys_is_refused(nodes, tmp_path):
    out = _refused(nodes, tmp_path, {**keys_env(shared_keys()), "LOCALBASE_NODE_ID": "n9"})
    assert "keys differ from those of the running node(s)" in out and "LOCALBASE_JWT_SECRET" in out


def test_a_second_node_with_a_running_nodes_id_is_refused(nodes, tmp_path):
    out = _refused(nodes, tmp_path, {**keys_env(nodes.keys), "LOCALBASE_NODE_ID": "n1"})
    assert "node n1 is already running" in out and "--node-id" in out


def test_an_unnamed_node_beside_named_ones_gets_a_slot_of_its_own_and_a_second_is_refused(nodes, tmp_path):
    """Unnamed (a single-node setup pointed at the database) it streams `localbase_realtime`,
    which no named node uses, and serves with the shared keys; a second unnamed node would stream
    the same slot: refused."""
    env = {**nodes.env, **keys_env(nodes.keys)}
    node = LocalbaseProcess(PROJECT, tmp_path / "a", env=env, extra_args=["--db-url", nodes.db_url])
    second = LocalbaseProcess(PROJECT, tmp_path / "b", env=env, extra_args=["--db-url", nodes.db_url])
    try:
        node.start(timeout=90)
        assert httpx.get(f"{node.url}/health").json()["status"] == "ok"
        with pytest.raises(RuntimeError) as refused:
            second.start(timeout=90)
        assert "replication slot localbase_realtime is streamed by node (unnamed)" in str(refused.value)
        assert "--node-id" in str(refused.value)
    finally:
        second.cleanup()
        node.cleanup()


async def test_a_node_with_several_workers_streams_a_slot_per_worker_and_ends_its_lease_when_stopped(nodes, tmp_path):
    node = LocalbaseProcess(PROJECT, tmp_path / "data",
                            env={**nodes.env, **keys_env(nodes.keys), "LOCALBASE_NODE_ID": "nw"},
                            extra_args=["--db-url", nodes.db_url, "--workers", "2"])
    try:
        node.start(timeout=120)
        rows = await sql(nodes, "select worker, slot, alive from localbase.node_status where node = 'nw' order by 1")
        assert [tuple(r) for r in rows] == [(0, "localbase_realtime_nw", True), (1, "localbase_realtime_nw_w1", True)]
        node.stop()
        rows = await sql(nodes, "select alive from localbase.node_status where node = 'nw'")
        assert [r["alive"] for r in rows] == [False, False]  # a clean stop ends the lease at once
        slots = await sql(nodes, "select slot_name from pg_replication_slots "
                                 "where slot_name like 'localbase_realtime_nw%'")
        assert len(slots) == 2  # kept for its return (dropped by the others after drop_slots_after_seconds)
    finally:
        node.cleanup()
        await sql(nodes, "delete from localbase.nodes where node = 'nw'")
        await sql(nodes, "select pg_drop_replication_slot(slot_name) from pg_replication_slots "
                         "where slot_name like 'localbase_realtime_nw%' and not active")
