"""`localbase doctor` on a database shared by nodes: each node process with its slot's lag, a node
that is gone with the WAL its slot holds, and a Localbase Realtime slot no node recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

from tests.localbase.nodes.conftest import PROJECT, sql


def doctor(db_url: str) -> dict[str, dict]:
    done = subprocess.run([sys.executable, "-m", "localbase", "doctor", "-o", "json", "--workdir", str(PROJECT),
                           "--db-url", db_url], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode in (0, 1), done.stderr
    return {c["name"]: c for c in json.loads(done.stdout)["checks"]}


async def test_doctor_shows_each_nodes_slot_lag_and_what_is_gone(nodes):
    ghost = uuid.uuid4()
    await sql(nodes, "select pg_create_logical_replication_slot(s, 'pgoutput') from unnest($1::text[]) s",
              ["localbase_realtime_ghost", "localbase_realtime_orphan", "localbase_kafka_doctor"])
    await sql(nodes, "insert into localbase.nodes (id, node, worker, slot, host, pid, api_url, backend_pid, "
                     "backend_start, keys, version, seen_at, lease_until) values ($1, 'ghost', 0, "
                     "'localbase_realtime_ghost', 'gone-host', 1, 'http://gone:1', 1, now(), 'x', '0', "
                     "now() - interval '42 seconds', now() - interval '40 seconds')", ghost)
    try:
        checks = doctor(nodes.db_url)
    finally:
        await sql(nodes, "delete from localbase.nodes where id = $1", ghost)
        await sql(nodes, "select pg_drop_replication_slot(s) from unnest($1::text[]) s",
                  ["localbase_realtime_ghost", "localbase_realtime_orphan", "localbase_kafka_doctor"])
    for i in range(3):
        check = checks[f"node n{i}/0"]
        assert check["status"] == "info", check
        assert f"slot localbase_realtime_n{i} streaming" in check["detail"] and " behind" in check["detail"]
    gone = checks["node ghost/0"]
    assert gone["status"] == "warn" and "gone for 4" in gone["detail"] and "of WAL" in gone["detail"], gone
    assert "drop its slot after 600s" in gone["detail"]
    orphan = checks["slot localbase_realtime_orphan"]
    assert orphan["status"] == "warn" and "no node has recorded" in orphan["detail"]
    assert not any(name.startswith("slot localbase_kafka") for name in checks)  # not a Realtime slot: not ours
