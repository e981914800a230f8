"""Realtime across a kill -9 of the server: the official client reconnects and rejoins by itself,
and receives the changes committed after the restart (docs/realtime.md, "After a crash")."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.faults.conftest import new_user, rest_headers
from tests.localbase.realtime.conftest import Inbox, client, subscribed


async def insert(server, token: str, batch: int) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(f"{server.url}/rest/v1/items", json={"batch": batch, "n": 0},
                            headers={**rest_headers(server, token), "Prefer": "return=minimal"})
    assert r.status_code == 201, r.text


async def wait_subscribed(statuses: Inbox, times: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while sum(1 for s in statuses.items if s[0] == "SUBSCRIBED") < times:
        assert time.monotonic() < deadline, f"not rejoined: {statuses.items}"
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_subscriber_rejoins_after_kill_9_and_gets_changes_committed_after_the_restart(server):
    uid, token = new_user(server)
    c = await client(server, token)
    try:
        statuses = Inbox()
        _, inbox = await subscribed(c, "faults-items", status=statuses, event="INSERT", schema="public",
                                    table="items")
        await insert(server, token, 1)
        await inbox.wait_for(1)
        await asyncio.sleep(0.5)  # past the 0.2 s position checkpoint (see the docs' at-least-once note)

        server.kill()
        await asyncio.to_thread(server.start)
        await insert(server, token, 2)  # committed before the client is back: Localbase's retention
        await wait_subscribed(statuses, 2)  # the client's own reconnect + rejoin (backoff 1 s, 2 s, ...)
        await insert(server, token, 3)  # committed after the rejoin: delivered live (also on Supabase)
        await inbox.wait_for(3, timeout=10)
        await asyncio.sleep(0.3)
        assert [m["data"]["record"]["batch"] for m in inbox.items] == [1, 2, 3]
        assert all(m["data"]["record"]["owner_id"] == uid for m in inbox.items)
    finally:
        await c.realtime.close()
