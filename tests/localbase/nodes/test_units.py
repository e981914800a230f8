"""The pure stages of scale-out: node and replica settings, slot names, derived role passwords,
key fingerprints, which slots may be reaped, the proxy's request rewriting, and the read replicas'
staleness rule."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from localbase.database.cluster import derived_password
from localbase.database.replicas import ReadRouter, Replica, fresh_as_of, session_key
from localbase.nodes.agreement import fingerprint
from localbase.nodes.config import NodeSettingsError, ReadReplicaSettings, node_settings, read_replica_settings
from localbase.nodes.reaper import realtime_slot
from localbase.realtime.service import node_slot, worker_slot
from localbase.security import signing_keys
from localbase.security.signing_keys import KeyRing
from localbase.settings import SettingsError, load_settings
from localbase.testing.nodes import keys_env, shared_keys
from localbase.testing.proxy import close_after, is_upgrade


@pytest.mark.parametrize("name", ["web1", "a", "eu_west_2", "0node"])
def test_node_ids_that_make_slot_names(name):
    assert node_settings({"id": name}).node_id == name


@pytest.mark.parametrize("name", ["Web1", "a-b", "_x", "x" * 25, "w1", "eu_w12", "a b"])
def test_node_ids_refused(name):
    with pytest.raises(NodeSettingsError):
        node_settings({"id": name})


def test_node_settings_from_config_env_and_flag(monkeypatch):
    assert node_settings({}) == node_settings({"id": ""}) and not node_settings({}).named
    monkeypatch.setenv("LOCALBASE_NODE_ID", "from_env")
    monkeypatch.setenv("LOCALBASE_NODES_LEASE_SECONDS", "4")
    got = node_settings({"id": "from_toml", "heartbeat_seconds": 0.5, "drop_slots_after_seconds": 30}, "flag")
    assert (got.node_id, got.heartbeat_seconds, got.lease_seconds, got.drop_slots_after_seconds) == ("flag", 0.5, 4, 30)
    with pytest.raises(NodeSettingsError, match="twice heartbeat_seconds"):
        node_settings({"heartbeat_seconds": 3})
    with pytest.raises(NodeSettingsError, match="must be a duration such as 30s"):
        node_settings({"drop_slots_after_seconds": "soon"})


def test_read_replica_settings(monkeypatch):
    assert not read_replica_settings({}).enabled
    assert read_replica_settings({"read_urls": "postgresql://r1/db"}).urls == ("postgresql://r1/db",)
    monkeypatch.setenv("LOCALBASE_DB_READ_URLS", "postgresql://a/x, postgres://b/x")
    assert read_replica_settings({"read_urls": ["postgresql://c/x"]}).urls == ("postgresql://a/x", "postgres://b/x")
    assert read_replica_settings({}, ["postgresql://flag/x"]).urls == ("postgresql://flag/x",)
    with pytest.raises(NodeSettingsError, match="postgresql://"):
        read_replica_settings({}, ["mysql://nope"])


def _project(tmp_path: Path) -> Path:
    (tmp_path / "supabase").mkdir()
    return tmp_path


def test_a_named_node_needs_the_shared_keys_from_configuration(tmp_path, monkeypatch):
    project = _project(tmp_path)
    with pytest.raises(SettingsError, match="LOCALBASE_JWT_SECRET.*LOCALBASE_PUBLISHABLE_KEY.*LOCALBASE_SECRET_KEY"):
        load_settings(project, data_dir=tmp_path / "d", node_id="n1")
    for name, value in keys_env(shared_keys()).items():
        monkeypatch.setenv(name, value)
    assert load_settings(project, data_dir=tmp_path / "d", node_id="n1").nodes.node_id == "n1"


def test_replicas_need_an_external_primary_and_a_role_secret_must_be_long(tmp_path, monkeypatch):
    project = _project(tmp_path)
    with pytest.raises(SettingsError, match="--db-url"):
        load_settings(project, data_dir=tmp_path / "d", db_read_urls=["postgresql://replica/postgres"])
    monkeypatch.setenv("LOCALBASE_DB_ROLE_SECRET", "short")
    with pytest.raises(SettingsError, match="at least 16"):
        load_settings(project, data_dir=tmp_path / "d")


def test_slot_names_per_node_and_worker():
    assert node_slot("localbase_realtime", "") == "localbase_realtime"
    assert node_slot("localbase_realtime", "web1") == "localbase_realtime_web1"
    assert worker_slot(node_slot("localbase_realtime", "web1"), 2) == "localbase_realtime_web1_w2"
    with pytest.raises(SettingsError, match="too long"):
        node_slot("localbase_realtime_" + "d" * 30, "x" * 20)


def test_only_localbase_realtime_slots_may_be_reaped():
    for slot in ("localbase_realtime", "localbase_realtime_n1", "localbase_realtime_n1_w3"):
        assert realtime_slot(slot, "localbase_realtime")
    for slot in ("localbase_kafka", "localbase_realtimex", "other", None, ""):
        assert not realtime_slot(slot, "localbase_realtime")


def test_derived_role_passwords_agree_per_secret_and_differ_per_role():
    assert derived_password("secret-a", "authenticator") == derived_password("secret-a", "authenticator")
    assert derived_password("secret-a", "authenticator") != derived_password("secret-a", "supabase_auth_admin")
    assert derived_password("secret-a", "authenticator") != derived_password("secret-b", "authenticator")
    assert "secret-a" not in derived_password("secret-a", "authenticator")


def test_key_fingerprints(tmp_path, monkeypatch):
    for name, value in keys_env(shared_keys()).items():
        monkeypatch.setenv(name, value)
    a = load_settings(_project(tmp_path), data_dir=tmp_path / "a")
    b = load_settings(tmp_path, data_dir=tmp_path / "b")  # another data folder, the same configured keys
    assert fingerprint(a) == fingerprint(b) and len(fingerprint(a)) == 16
    assert fingerprint(a) != fingerprint(replace(a, publishable_key="sb_publishable_other"))
    signing = signing_keys.parse(orjson.dumps([signing_keys.generate("ES256")]).decode())
    with_signing = replace(a, keyring=KeyRing(a.jwt_secret, signing))
    assert fingerprint(with_signing) != fingerprint(a)  # asymmetric keys are part of what nodes agree on
    assert fingerprint(with_signing) == fingerprint(replace(b, keyring=KeyRing(b.jwt_secret, signing)))
    assert a.jwt_secret not in fingerprint(a)


def test_the_proxy_sends_each_request_on_a_connection_of_its_own():
    head = b"GET /rest/v1/t HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\nAccept: */*\r\n\r\n"
    assert close_after(head) == b"GET /rest/v1/t HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    assert not is_upgrade(head)
    assert is_upgrade(b"GET /realtime/v1/websocket HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")


def _router(**config) -> ReadRouter:
    router = ReadRouter("postgresql://primary/x", ["postgresql://r0/x", "postgresql://r1/x"],
                        ReadReplicaSettings(("r0", "r1"), **config))
    return router


def test_a_replica_is_fresh_as_of_the_last_primary_position_it_replayed():
    samples = [(1.0, 100), (2.0, 200), (3.0, 300)]
    assert fresh_as_of(samples, 250) == 2.0
    assert fresh_as_of(samples, 300) == 3.0
    assert fresh_as_of(samples, 99) == -math.inf


def test_reads_go_where_the_sessions_writes_are(monkeypatch):
    now = [100.0]
    monkeypatch.setattr("localbase.database.replicas.time.monotonic", lambda: now[0])
    router = _router(max_lag_seconds=5.0, read_your_writes_seconds=10.0)
    r0, r1 = router.replicas
    r0.healthy = r1.healthy = True
    r0.fresh_as_of, r1.fresh_as_of = 99.0, 97.0
    me, other = session_key("session-1", "10.0.0.1"), session_key(None, "10.0.0.2")
    assert {router.reader(me).index for _ in range(4)} == {0, 1}  # no write: either, in turn
    router._mark(me, 98.0)  # wrote at 98: only r0 (fresh as of 99) has it
    assert {router.reader(me).index for _ in range(4)} == {0}
    router._mark(me, 99.5)  # wrote after both: the primary
    assert router.reader(me) is None
    assert router.reader(other) is not None
    now[0] = 103.5  # r1 is 6.5 s behind (> max lag), r0 4.5 s: only r0
    assert {router.reader(other).index for _ in range(4)} == {0}
    r0.healthy = False
    assert router.reader(other) is None
    r0.healthy = True
    router.wrote_everything()  # the schema changed at 103.5: nobody reads a replica until it replayed that
    assert router.reader(other) is None
    assert router.stats["reads_primary"] == 3 and router.stats["reads_replica"] == 13


def test_session_keys_are_hashed_and_fall_back_to_the_client_address():
    assert session_key("s1", "1.2.3.4") == session_key("s1", "5.6.7.8")
    assert session_key(None, "1.2.3.4") != session_key(None, "5.6.7.8")
    assert "1.2.3.4" not in session_key(None, "1.2.3.4") and len(session_key("s1", None)) == 16


def test_marks_expire_after_the_read_your_writes_window():
    router = _router(max_lag_seconds=1.0, read_your_writes_seconds=2.0)
    router._mark("a", 10.0)
    router._mark("b", 11.0)
    router._mark("c", 12.5)  # "a" is older than 12.5 - 2
    assert list(router.marks) == ["b", "c"]
    assert isinstance(router.replicas[0], Replica)
