"""pg_net on Localbase: net.http_get/post/delete enqueue in the caller's transaction and the sender
delivers committed requests, recording each outcome in net._http_response as pg_net does."""

from __future__ import annotations

import time

import asyncpg
import pytest

from tests.localbase.helpers import run_sync, sql


def response(server, request_id: int, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = sql(server, "select * from net._http_response where id = $1", request_id)
        if rows:
            return dict(rows[0])
        time.sleep(0.05)
    raise AssertionError(f"no response for request {request_id} within {timeout}s")


def test_http_post_sends_the_committed_request_and_stores_the_response(localbase_server, receiver):
    [row] = sql(localbase_server, "select net.http_post(url := $1, body := '{\"hello\": \"world\"}'::jsonb, "
                "params := '{\"q\": \"a b&c\"}'::jsonb, headers := '{\"X-Token\": \"t1\"}'::jsonb) as id",
                receiver.url + "/ok")
    got = response(localbase_server, row["id"])
    [seen] = receiver.seen
    assert seen.method == "POST" and seen.path == "/ok" and seen.query == {"q": ["a b&c"]}
    assert seen.json() == {"hello": "world"}
    assert seen.headers["X-Token"] == "t1" and seen.headers["Content-Type"] == "application/json"
    assert got["status_code"] == 200 and got["timed_out"] is False and got["error_msg"] is None
    assert got["content_type"] == "application/json" and "hello" in got["content"]
    assert '"x-receiver": "yes"' in got["headers"]
    queued = sql(localbase_server, "select count(*) as n from net.http_request_queue where id = $1", row["id"])
    assert queued[0]["n"] == 0


def test_get_and_delete_with_their_signatures(localbase_server, receiver):
    [got] = sql(localbase_server, "select net.http_get($1, '{\"a\": \"1\"}'::jsonb) as g, "
                "net.http_delete($1, '{}'::jsonb, '{}'::jsonb, 2000, '{\"gone\": true}'::jsonb) as d",
                receiver.url + "/ok")
    assert response(localbase_server, got["g"])["status_code"] == 200
    assert response(localbase_server, got["d"])["status_code"] == 200
    by_method = {s.method: s for s in receiver.seen}
    assert by_method["GET"].query == {"a": ["1"]} and by_method["GET"].body == b""
    assert by_method["DELETE"].body == b'{"gone": true}'


def test_a_rolled_back_transaction_sends_nothing(localbase_server, receiver):
    async def go() -> int:
        conn = await asyncpg.connect(localbase_server.db_url)
        try:
            tx = conn.transaction()
            await tx.start()
            request_id = await conn.fetchval("select net.http_post($1, '{\"n\": 1}'::jsonb)", receiver.url + "/ok")
            await tx.rollback()
            # a committed one after it: once it is answered, the sender has looked at the queue
            done = await conn.fetchval("select net.http_get($1)", receiver.url + "/status/204")
            return request_id, done
        finally:
            await conn.close()

    rolled_back, committed = run_sync(go)
    assert response(localbase_server, committed)["status_code"] == 204
    time.sleep(0.3)
    assert [s.path for s in receiver.seen] == ["/status/204"]
    assert sql(localbase_server, "select count(*) as n from net._http_response where id = $1", rolled_back)[0]["n"] == 0


def test_a_timeout_is_recorded(localbase_server, receiver):
    [row] = sql(localbase_server, "select net.http_get($1, timeout_milliseconds := 300) as id",
                receiver.url + "/slow?ms=2000")
    got = response(localbase_server, row["id"])
    assert got["timed_out"] is True and got["status_code"] is None
    assert got["error_msg"].startswith("Timeout of 300 ms reached")


def test_an_unreachable_server_is_an_error_not_a_status(localbase_server):
    from localbase.testing.server import free_port
    [row] = sql(localbase_server, "select net.http_post($1) as id", f"http://127.0.0.1:{free_port()}/x")
    got = response(localbase_server, row["id"])
    assert got["status_code"] is None and got["timed_out"] is False and got["error_msg"]


def test_post_refuses_a_content_type_other_than_json(localbase_server):
    with pytest.raises(asyncpg.RaiseError, match='Content-Type header must be "application/json"'):
        sql(localbase_server, "select net.http_post('http://127.0.0.1:1/', "
            "headers := '{\"content-type\": \"text/plain\"}')")


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_api_roles_cannot_call_net_by_default(localbase_server, role):
    async def go():
        conn = await asyncpg.connect(localbase_server.db_url)
        try:
            async with conn.transaction():
                await conn.execute(f"set local role {role}")
                return await conn.fetchval("select net.http_get('http://127.0.0.1:1/')")
        finally:
            await conn.close()

    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        run_sync(go)


def test_service_role_may_call_net(localbase_server, receiver):
    async def go():
        conn = await asyncpg.connect(localbase_server.db_url)
        try:
            async with conn.transaction():
                await conn.execute("set local role service_role")
                return await conn.fetchval("select net.http_get($1)", receiver.url + "/ok")
        finally:
            await conn.close()

    assert response(localbase_server, run_sync(go))["status_code"] == 200


def test_responses_older_than_the_ttl_are_deleted(localbase_server):
    sql(localbase_server, "insert into net._http_response (id, status_code, created) "
        "values (-42, 200, now() - interval '7 hours')")
    deadline = time.monotonic() + 15
    while sql(localbase_server, "select 1 from net._http_response where id = -42"):
        assert time.monotonic() < deadline, "the expired response was not pruned"
        time.sleep(0.2)


def test_collect_response(localbase_server, receiver):
    [row] = sql(localbase_server, "select net.http_get($1) as id", receiver.url + "/ok")
    response(localbase_server, row["id"])
    [got] = sql(localbase_server, "select (r).status::text as status, ((r).response).status_code as code "
                "from (select net._http_collect_response($1) as r) x", row["id"])
    assert got["status"] == "SUCCESS" and got["code"] == 200
