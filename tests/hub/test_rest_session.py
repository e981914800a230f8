"""rest_session.RestSession: the query builders' requests sent straight on an aiohttp pool. Its
answers are the ones the httpx client gets for the same queries, errors included (code, message,
details, hint); a network error arrives as httpx's; a compressed answer is read decoded. (Callers
sharing it each act as themselves: tests/hub/test_clients.py.)"""

from __future__ import annotations

import gzip
import json
import uuid

import httpx
import pytest
from aiohttp import web
from postgrest.exceptions import APIError

from efficiency_hub.clients import CallerClient, aiohttp_pool, anon_client
from efficiency_hub.rest_session import RestSession
from efficiency_hub.tracker import Tracker
from localbase.testing.server import free_port


@pytest.fixture
async def pool():
    async with aiohttp_pool() as session:
        yield session


@pytest.fixture
async def shared(settings):
    async with httpx.AsyncClient() as http:
        yield await anon_client(settings, http)


async def test_answers_and_errors_are_the_httpx_clients(make_person, shared, pool):
    """The same queries through RestSession and through the shared httpx client: same rows and
    counts, same PostgREST errors (code, message, details, hint)."""
    person = await make_person()
    await Tracker(CallerClient(shared, person.token)).record_event(person.citizen_id, "task_completed", 2)
    queries = {
        "rows and an exact count": lambda c: c.table("citizens").select("citizen_id, name", count="exact"),
        "nothing visible": lambda c: c.table("citizens").select("*").eq("citizen_id", "EFF-2025-000000"),
        "an embedded resource": lambda c: c.table("efficiency_events").select("event_type, citizen:citizens(name)"),
        "an RPC": lambda c: c.rpc("current_citizen_id"),
        "a value of the wrong type": lambda c: c.table("citizens").select("*").eq("id", "not-a-uuid"),
        "an unknown column": lambda c: c.table("citizens").select("no_such_column"),
        "one row asked for, none there": lambda c: c.table("citizens").select("*").eq("id", str(uuid.uuid4())).single(),
    }

    async def outcome(client: CallerClient, query) -> tuple:
        try:
            answer = await query(client).execute()
        except APIError as exc:
            return "error", exc.code, exc.message, exc.details, exc.hint
        return "answer", answer.data, answer.count

    httpx_caller = CallerClient(shared, person.token)
    rest_caller = CallerClient(shared, person.token, RestSession(pool))
    for name, query in queries.items():
        expected = await outcome(httpx_caller, query)
        assert await outcome(rest_caller, query) == expected, name
    assert (await outcome(rest_caller, queries["rows and an exact count"]))[1:] == \
        ([{"citizen_id": person.citizen_id, "name": person.citizen.name}], 1)
    assert (await outcome(rest_caller, queries["a value of the wrong type"]))[:2] == ("error", "22P02")


async def test_a_network_error_arrives_as_httpx_s(pool):
    closed = f"http://127.0.0.1:{free_port()}/rest/v1/citizens"  # nothing listens there
    with pytest.raises(httpx.TransportError):
        await RestSession(pool).request("GET", closed, headers=httpx.Headers({"Authorization": "Bearer x"}))


async def test_a_compressed_answer_is_read_decoded(pool):
    """A backend behind a compressing proxy (Supabase's is): aiohttp decodes the body, and the
    answer no longer claims an encoding or the compressed length."""
    rows = [{"citizen_id": f"EFF-2025-{n:06d}", "note": "x" * 200} for n in range(50)]

    async def compressed(request: web.Request) -> web.Response:
        body = gzip.compress(json.dumps(rows).encode())
        return web.Response(body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})

    app = web.Application()
    app.router.add_get("/rest/v1/citizens", compressed)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        answer = await RestSession(pool).request("GET", f"http://127.0.0.1:{port}/rest/v1/citizens",
                                                 params=httpx.QueryParams({"select": "*"}),
                                                 headers=httpx.Headers({"Accept-Encoding": "gzip"}))
    finally:
        await runner.cleanup()
    assert answer.status_code == 200 and answer.json() == rows
    assert "content-encoding" not in answer.headers and "content-length" not in answer.headers
    assert answer.request.url.path == "/rest/v1/citizens" and answer.request.url.params["select"] == "*"


async def test_basic_auth_is_refused_rather_than_dropped(pool):
    with pytest.raises(ValueError, match="Authorization"):
        await RestSession(pool).request("GET", "http://127.0.0.1:1/", auth=httpx.BasicAuth("u", "p"))
