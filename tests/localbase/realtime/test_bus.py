"""Realtime with several API workers (`localbase start --workers 2`): clients on different workers
share broadcasts and presence (through the bus), and each worker streams postgres changes.

The kernel hands each new socket to either worker: the tests open clients until /metrics shows
both workers holding some, so every test really crosses from one worker to the other."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time

import httpx
import pytest

from localbase.testing.server import LocalbaseProcess
from tests.localbase.realtime.conftest import PROJECT, Inbox, client, topic

PER_WORKER = 2
MAX_CLIENTS = 40


@pytest.fixture(scope="module")
def two_workers():
    with LocalbaseProcess(PROJECT, extra_args=["--workers", "2"]) as server:
        yield server


def connections_per_worker(server) -> dict[str, int]:
    text = httpx.get(f"{server.url}/metrics", headers={"apikey": server.service_role_key}).text
    return {m[0]: int(float(m[1])) for m in
            re.findall(r'^localbase_realtime_connections\{worker="(\d+)"\} (\S+)$', text, re.M)}


async def joined(c, name: str, *, key: str, inbox: Inbox | None = None, presence: Inbox | None = None):
    ch = c.channel(name, {"config": {"broadcast": {"self": False}, "presence": {"key": key, "enabled": True}}})
    ch.on_presence_sync(lambda: None)
    if inbox is not None:
        ch.on_broadcast("msg", inbox)
    if presence is not None:
        ch.on_presence_join(lambda k, _cur, new: presence(("join", k, new)))
        ch.on_presence_leave(lambda k, _cur, left: presence(("leave", k, left)))
    status = Inbox()
    await ch.subscribe(status)
    assert status.items[-1][0] == "SUBSCRIBED", status.items
    return ch


async def spread(server, clients: list, join) -> list:
    """Open clients (each joined by `join(client, i)`), a few at a time, until each worker holds
    PER_WORKER more sockets than before (the other worker's gauge is at most a second old)."""
    channels: list = []
    await asyncio.sleep(1.2)  # the sockets of an earlier test are gone from both gauges
    baseline = connections_per_worker(server)
    while len(channels) < MAX_CLIENTS:
        for _ in range(4):
            c = await client(server)
            clients.append(c)
            channels.append(await join(c, len(channels)))
        await asyncio.sleep(1.2)
        counts = connections_per_worker(server)
        if len(counts) == 2 and all(counts[w] - baseline.get(w, 0) >= PER_WORKER for w in counts):
            return channels
    raise AssertionError(f"{MAX_CLIENTS} sockets did not reach both workers: {connections_per_worker(server)}")


async def listeners(server, clients: list, name: str) -> tuple[list, list[Inbox]]:
    """Clients on both workers joined to `name`, each with an inbox of the broadcasts it gets."""
    inboxes: list[Inbox] = []

    async def join(c, i):
        inboxes.append(Inbox())
        return await joined(c, name, key=f"u{i}", inbox=inboxes[-1])

    return await spread(server, clients, join), inboxes


async def test_a_broadcast_reaches_the_clients_of_every_worker(two_workers, clients):
    name = topic()
    channels, inboxes = await listeners(two_workers, clients, name)
    await channels[0].send_broadcast("msg", {"n": 1})
    for inbox in inboxes[1:]:
        (msg,) = await inbox.wait_for(1)
        assert msg["payload"] == {"n": 1}
    # over HTTP too, whichever worker takes the request
    for n in (2, 3, 4):
        r = httpx.post(f"{two_workers.url}/realtime/v1/api/broadcast", headers={"apikey": two_workers.anon_key},
                       json={"messages": [{"topic": name, "event": "msg", "payload": {"n": n}}]})
        assert r.status_code == 202
    for inbox in inboxes:
        got = await inbox.wait_for(4 if inbox is not inboxes[0] else 3)
        assert [m["payload"]["n"] for m in got][-3:] == [2, 3, 4]
    await asyncio.sleep(0.3)
    assert len(inboxes[0].items) == 3  # the sender does not get its own (self: false), nor twice


async def test_a_large_broadcast_crosses_workers_in_parts(two_workers, clients):
    channels, inboxes = await listeners(two_workers, clients, topic())
    text = "é☃" * 20_000  # multi-byte characters, far over PostgreSQL's 8000-byte NOTIFY payload
    await channels[0].send_broadcast("msg", {"text": text})
    for inbox in inboxes[1:]:
        (msg,) = await inbox.wait_for(1)
        assert msg["payload"]["text"] == text


async def test_a_binary_broadcast_reaches_vsn_2_sockets_of_every_worker(two_workers):
    """application/octet-stream over HTTP, on whichever worker: every vsn 2.0.0 socket of the topic
    gets the bytes in a binary frame (base64 on the bus between them)."""
    import json

    import websockets
    name = topic()
    url = two_workers.url.replace("http", "ws") + f"/realtime/v1/websocket?apikey={two_workers.anon_key}&vsn=2.0.0"
    sockets: list = []
    await asyncio.sleep(1.2)
    baseline = connections_per_worker(two_workers)
    try:
        while True:
            assert len(sockets) < MAX_CLIENTS, f"not on both workers: {connections_per_worker(two_workers)}"
            for _ in range(4):
                ws = await websockets.connect(url)
                sockets.append(ws)
                await ws.send(json.dumps(["1", "1", f"realtime:{name}", "phx_join",
                                          {"config": {"broadcast": {"self": False}, "presence": {"key": ""}}}]))
                assert json.loads(await asyncio.wait_for(ws.recv(), 5))[4]["status"] == "ok"
            await asyncio.sleep(1.2)
            counts = connections_per_worker(two_workers)
            if len(counts) == 2 and all(counts[w] - baseline.get(w, 0) >= PER_WORKER for w in counts):
                break
        data = b"\x00\xffbinary\x01"
        r = httpx.post(f"{two_workers.url}/realtime/v1/api/broadcast/{name}/events/blob", content=data,
                       headers={"apikey": two_workers.anon_key, "content-type": "application/octet-stream"})
        assert r.status_code == 202
        for ws in sockets:
            frame = await asyncio.wait_for(ws.recv(), 5)
            assert isinstance(frame, bytes) and frame[0] == 4 and frame.endswith(b"blob" + data)
    finally:
        for ws in sockets:
            await ws.close()


async def test_presence_is_one_state_across_workers(two_workers, clients):
    name = topic()
    channels = await spread(two_workers, clients, lambda c, i: joined(c, name, key=f"u{i}"))
    for i, ch in enumerate(channels):
        await ch.track({"i": i})
    everyone = {f"u{i}" for i in range(len(channels))}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(set(ch.presence_state()) != everyone for ch in channels):
        await asyncio.sleep(0.05)
    for ch in channels:
        assert set(ch.presence_state()) == everyone
    await channels[-1].untrack()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(f"u{len(channels) - 1}" in ch.presence_state() for ch in channels):
        await asyncio.sleep(0.05)
    for ch in channels:
        assert set(ch.presence_state()) == everyone - {f"u{len(channels) - 1}"}
    # a client joining now gets the whole state at once, whichever worker it lands on
    late = await client(two_workers)
    clients.append(late)
    ch = await joined(late, name, key="late")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and set(ch.presence_state()) != everyone - {f"u{len(channels) - 1}"}:
        await asyncio.sleep(0.05)
    assert set(ch.presence_state()) == everyone - {f"u{len(channels) - 1}"}


async def test_every_worker_streams_postgres_changes_under_rls(two_workers, clients):
    import asyncpg
    name = topic()
    inboxes: list[Inbox] = []

    async def join(c, i):
        inboxes.append(Inbox())
        ch = c.channel(f"{name}-{i}").on_postgres_changes("INSERT", inboxes[-1], schema="public", table="posts")
        status = Inbox()
        await ch.subscribe(status)
        assert status.items[-1][0] == "SUBSCRIBED", status.items
        return ch

    await spread(two_workers, clients, join)
    conn = await asyncpg.connect(two_workers.db_url)
    try:
        body = f"hello {name}"
        await conn.execute("insert into public.posts (body, published) values ($1, false)", "a draft")  # RLS: hidden
        await conn.execute("insert into public.posts (body, published) values ($1, true)", body)
    finally:
        await conn.close()
    for inbox in inboxes:
        await inbox.wait_for(1)
        assert [r["body"] for r in inbox.records()] == [body]  # once each, from its own worker's slot


async def test_a_killed_workers_presences_leave(two_workers, clients):
    name = topic()
    inboxes: list[Inbox] = []

    async def join(c, i):
        inboxes.append(Inbox())
        return await joined(c, name, key=f"u{i}", presence=inboxes[-1])

    channels = await spread(two_workers, clients, join)
    for i, ch in enumerate(channels):
        await ch.track({"i": i})
    await asyncio.sleep(0.5)
    victim = worker_pid(two_workers, 1)
    os.kill(victim, signal.SIGKILL)
    # the clients of the other worker stop hearing of the victim's within the bus' expiry
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not any(kind == "leave" for i in inboxes for kind, *_ in i.items):
        await asyncio.sleep(0.1)
    lefts = {k for i in inboxes for kind, k, _ in i.items if kind == "leave"}
    assert lefts, "no presence left after its worker was killed"
    assert worker_pid(two_workers, 1) != victim  # started again


def worker_pid(server, index: int, timeout: float = 20.0) -> int:
    """The pid of worker `index`, asking /health on new connections until it answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            body = httpx.get(f"{server.url}/health").json()
        except httpx.HTTPError:
            time.sleep(0.05)
            continue
        if body.get("worker", {}).get("index") == index:
            return body["worker"]["pid"]
    raise AssertionError(f"worker {index} did not answer /health within {timeout}s")
