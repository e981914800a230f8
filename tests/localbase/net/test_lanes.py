"""The sender's lanes: an idle server holds one connection for them (the first lane polls, the
others wait to be woken), a notification wakes an idle lane while another is busy, and lanes join
in as a backlog grows."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.localbase.helpers import sql
from tests.localbase.servers import servers  # noqa: F401 - the fixture

BATCH = 5


def _project(tmp_path: Path) -> Path:
    supa = tmp_path / "project" / "supabase"
    (supa / "migrations").mkdir(parents=True)
    (supa / "localbase.toml").write_text(f"[net]\nbatch_size = {BATCH}\nlanes = 4\n")
    return supa.parent


@pytest.fixture
def server(tmp_path, servers):  # noqa: F811
    return servers(_project(tmp_path)).start()


def _answered(server, ids: list[int], timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        rows = [dict(r) for r in sql(server, "select id, status_code from net._http_response where id = any($1)", ids)]
        if len(rows) == len(ids) or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_an_idle_server_holds_one_connection_for_its_lanes(server):
    time.sleep(2.5)  # a few polls of the first lane
    names = [r["application_name"] for r in sql(
        server, "select application_name from pg_stat_activity where backend_type = 'client backend' "
                "and pid <> pg_backend_pid()")]
    assert names.count("localbase-net") == 1, names  # the first lane (wake-ups come over the server's listener)
    assert names.count("localbase-listener") == 1, names  # one LISTEN connection: pg_net's and the schema cache's
    assert names.count("localbase-rest") == 1 and names.count("localbase-auth") == 0, names


def test_a_request_is_sent_while_another_lane_is_busy(server, receiver):
    slow = sql(server, "select net.http_get($1, timeout_milliseconds := 20000) as id", receiver.url + "/slow?ms=4000")
    receiver.wait(lambda seen: any(s.path == "/slow" for s in seen), what="the slow request")
    started = time.monotonic()
    fast = sql(server, "select net.http_get($1) as id", receiver.url + "/ok")
    answered = _answered(server, [fast[0]["id"]], timeout=10)
    assert answered and answered[0]["status_code"] == 200
    assert time.monotonic() - started < 3, "the new request waited for the busy lane"
    assert _answered(server, [slow[0]["id"]])[0]["status_code"] == 200


def test_lanes_join_in_as_the_queue_grows(server, receiver):
    ids = [r["id"] for r in sql(server, "select net.http_get($1 || '&n=' || g, timeout_milliseconds := 20000) as id "
                                "from generate_series(1, $2) g", receiver.url + "/slow?ms=600", BATCH * 8)]
    answered = _answered(server, ids, timeout=60)
    assert len(answered) == len(ids) and all(r["status_code"] == 200 for r in answered)
    assert receiver.most_inflight > BATCH, "one lane at a time sent the backlog"
