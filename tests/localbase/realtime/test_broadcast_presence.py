"""Broadcast and Presence between two official async clients."""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.localbase.realtime.conftest import Inbox, client, topic


async def _joined(c, name: str, config: dict | None = None, **callbacks):
    params = {"config": {"broadcast": {"ack": False, "self": False}, "presence": {"key": "", "enabled": False},
                         "private": False, **(config or {})}}
    ch = c.channel(name, params)
    for event, inbox in callbacks.items():
        ch.on_broadcast(event, inbox)
    status = Inbox()
    await ch.subscribe(status)
    assert status.items[-1][0] == "SUBSCRIBED", status.items
    return ch


async def test_broadcast_between_two_clients(realtime_server, clients):
    a, b = await client(realtime_server), await client(realtime_server)
    clients += [a, b]
    name = topic()
    got_a, got_b = Inbox(), Inbox()
    ch_a = await _joined(a, name, cursor=got_a)
    await _joined(b, name, cursor=got_b)
    await ch_a.send_broadcast("cursor", {"x": 1, "y": 2})
    (msg,) = await got_b.wait_for(1)
    assert msg["event"] == "cursor" and msg["payload"] == {"x": 1, "y": 2}
    await asyncio.sleep(0.3)
    assert got_a.items == []  # not to itself without `self`


async def test_broadcast_self_and_ack(realtime_server, clients):
    a = await client(realtime_server)
    clients.append(a)
    got = Inbox()
    ch = await _joined(a, topic(), {"broadcast": {"self": True, "ack": True}}, ping=got)
    acked = asyncio.get_running_loop().create_future()
    push = await ch.push("broadcast", {"type": "broadcast", "event": "ping", "payload": {"n": 1}})
    push.receive("ok", lambda _resp: acked.set_result(True))
    assert await asyncio.wait_for(acked, 5)
    (msg,) = await got.wait_for(1)
    assert msg["payload"] == {"n": 1}


async def test_rest_broadcast_endpoints(realtime_server, clients):
    b = await client(realtime_server)
    clients.append(b)
    name = topic()
    got = Inbox()
    ch = await _joined(b, name, {"broadcast": {"self": True}}, **{"*": got})
    response = httpx.post(f"{realtime_server.url}/realtime/v1/api/broadcast",
                          headers={"apikey": realtime_server.anon_key},
                          json={"messages": [{"topic": name, "event": "news", "payload": {"n": 1}}]})
    assert response.status_code == 202, response.text
    await ch.http_send("news", {"n": 2})  # the client's own REST call
    await got.wait_for(2)
    assert [(m["event"], m["payload"]) for m in got.items] == [("news", {"n": 1}), ("news", {"n": 2})]
    refused = httpx.post(f"{realtime_server.url}/realtime/v1/api/broadcast",
                         headers={"apikey": realtime_server.anon_key, "Authorization": "Bearer not-a-jwt"},
                         json={"messages": [{"topic": name, "event": "x", "payload": {}}]})
    assert refused.status_code == 401


async def test_presence_track_untrack_and_leave(realtime_server, clients):
    a, b = await client(realtime_server), await client(realtime_server)
    clients += [a, b]
    name = topic()
    joins_b, leaves_b, syncs_b = Inbox(), Inbox(), Inbox()
    ch_a = a.channel(name, {"config": {"presence": {"key": "alice", "enabled": True}}})
    ch_a.on_presence_sync(lambda: None)
    await ch_a.subscribe()
    ch_b = b.channel(name, {"config": {"presence": {"key": "bob", "enabled": True}}})
    ch_b.on_presence_sync(lambda: syncs_b(True)).on_presence_join(joins_b).on_presence_leave(leaves_b)
    await ch_b.subscribe()

    await ch_a.track({"status": "online"})
    await ch_b.track({"status": "away"})
    await joins_b.wait_for(2)
    state = ch_b.presence_state()
    assert set(state) == {"alice", "bob"}
    assert state["alice"][0]["status"] == "online" and "presence_ref" in state["alice"][0]
    assert state["bob"][0]["status"] == "away"

    await ch_a.track({"status": "busy"})  # tracking again replaces the meta
    await asyncio.sleep(0.3)
    assert [m["status"] for m in ch_b.presence_state()["alice"]] == ["busy"]

    assert len(leaves_b.items) == 1  # the replaced meta left (Phoenix reports it as a leave)
    await ch_a.untrack()
    await leaves_b.wait_for(2)
    assert "alice" not in ch_b.presence_state()

    await ch_a.track({"status": "back"})
    await asyncio.sleep(0.3)
    assert "alice" in ch_b.presence_state()
    await a.realtime.close()  # a socket that goes away leaves
    await leaves_b.wait_for(3)
    assert set(ch_b.presence_state()) == {"bob"}
    # a late joiner gets the whole state at once
    c = await client(realtime_server)
    clients.append(c)
    synced = Inbox()
    ch_c = c.channel(name, {"config": {"presence": {"key": "carol", "enabled": True}}})
    ch_c.on_presence_sync(lambda: synced(True))
    await ch_c.subscribe()
    await synced.wait_for(1)
    assert set(ch_c.presence_state()) == {"bob"}


def _user_broadcast_push(join_ref: str, ref: str, topic_name: str, event: str, payload: dict) -> bytes:
    """The binary frame supabase-js (vsn 2.0.0) sends for a broadcast: kind 3, five field lengths,
    the payload encoding (1 = JSON), the fields, then the payload."""
    fields = [join_ref.encode(), ref.encode(), topic_name.encode(), event.encode(), b""]
    return bytes([3, *(len(f) for f in fields), 1]) + b"".join(fields) + json.dumps(payload).encode()


async def test_binary_broadcast_push_of_vsn_2(realtime_server):
    import websockets
    url = realtime_server.url.replace("http", "ws") + \
        f"/realtime/v1/websocket?apikey={realtime_server.anon_key}&vsn=2.0.0"
    name = f"realtime:{topic()}"
    async with websockets.connect(url) as ws:
        config = {"broadcast": {"self": True, "ack": True}, "presence": {"key": ""}, "postgres_changes": []}
        await ws.send(json.dumps(["1", "1", name, "phx_join", {"config": config}]))
        assert json.loads(await ws.recv())[4]["status"] == "ok"
        await ws.send(_user_broadcast_push("1", "2", name, "cursor", {"x": "é"}))
        frames = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(2)]
        by_event = {f[3]: f for f in frames}
        assert by_event["phx_reply"][1] == "2" and by_event["phx_reply"][4]["status"] == "ok"
        assert by_event["broadcast"][4] == {"type": "broadcast", "event": "cursor", "payload": {"x": "é"}}
