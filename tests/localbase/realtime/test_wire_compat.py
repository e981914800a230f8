"""What the official clients check on the wire: the join reply echoes the postgres_changes
bindings as they were sent (plus `id`), and binary broadcasts over HTTP (`httpSend` with bytes,
`application/octet-stream`) reach vsn 2.0.0 subscribers as binary "user broadcast" frames."""

from __future__ import annotations

import asyncio
import json

import httpx
import websockets

from tests.localbase.realtime.conftest import Inbox, client, topic


def _socket_url(server, vsn: str) -> str:
    return server.url.replace("http", "ws") + f"/realtime/v1/websocket?apikey={server.anon_key}&vsn={vsn}"


async def _join(ws, name: str, config: dict) -> dict:
    await ws.send(json.dumps(["1", "1", name, "phx_join", {"config": config}]))
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if frame[3] == "phx_reply" and frame[1] == "1":
            return frame[4]


async def test_join_reply_echoes_the_bindings_as_sent(realtime_server):
    """A binding sent without `schema` (or with keys the server does not use) comes back as sent:
    realtime-js compares schema, table and filter with what it sent and fails the channel
    (CHANNEL_ERROR) on any difference."""
    sent = [{"event": "*", "table": "notes"},
            {"event": "INSERT", "schema": "public", "table": "posts", "filter": "published=eq.true"}]
    config = {"broadcast": {"self": False}, "presence": {"key": ""}, "postgres_changes": sent}
    async with websockets.connect(_socket_url(realtime_server, "2.0.0")) as ws:
        reply = await _join(ws, f"realtime:{topic()}", config)
    assert reply["status"] == "ok", reply
    echoed = reply["response"]["postgres_changes"]
    assert [{k: v for k, v in b.items() if k != "id"} for b in echoed] == sent
    assert all(isinstance(b["id"], int) for b in echoed) and echoed[0]["id"] != echoed[1]["id"]


async def test_a_binding_without_schema_still_watches_public(realtime_server, db, clients):
    """The default applies to the subscription itself: no schema means public."""
    c = await client(realtime_server)
    clients.append(c)
    inbox, status = Inbox(), Inbox()
    ch = c.channel(topic()).on_postgres_changes("INSERT", inbox, table="posts")
    ch.postgres_changes_callbacks[0].schema = None  # as realtime-js sends it: no schema key at all
    await ch.subscribe(status)
    await status.wait_for(1)
    assert status.items[-1][0] == "SUBSCRIBED", status.items
    await db.execute("insert into public.posts (body, published) values ('schema-less', true)")
    await inbox.wait_for(1)
    assert inbox.records()[0]["body"] == "schema-less"


async def test_binary_broadcast_over_http(realtime_server, clients):
    """supabase-py's http_send(bytes) posts application/octet-stream: 202, and a vsn 2.0.0
    subscriber gets the bytes in a binary user-broadcast frame (kind 4, encoding 0)."""
    name = topic()
    data = bytes(range(256)) + "é".encode()
    async with websockets.connect(_socket_url(realtime_server, "2.0.0")) as ws:
        reply = await _join(ws, f"realtime:{name}", {"broadcast": {"self": False}, "presence": {"key": ""}})
        assert reply["status"] == "ok", reply
        sender = await client(realtime_server)
        clients.append(sender)
        await sender.channel(name).http_send("blob", data)  # raises on anything but 202
        frame = await asyncio.wait_for(ws.recv(), 5)
    assert isinstance(frame, bytes)
    kind, topic_len, event_len, meta_len, encoding = frame[:5]
    assert (kind, meta_len, encoding) == (4, 0, 0)
    assert frame[5:5 + topic_len].decode() == f"realtime:{name}"
    assert frame[5 + topic_len:5 + topic_len + event_len].decode() == "blob"
    assert frame[5 + topic_len + event_len:] == data


async def test_binary_push_from_a_vsn_2_client_is_relayed_as_binary(realtime_server):
    """realtime-js sends `channel.send({type: 'broadcast', event, payload: ArrayBuffer})` as a user
    broadcast push with the binary encoding; the other members get the same bytes."""
    name = f"realtime:{topic()}"
    config = {"broadcast": {"self": True, "ack": True}, "presence": {"key": ""}}
    async with websockets.connect(_socket_url(realtime_server, "2.0.0")) as ws:
        assert (await _join(ws, name, config))["status"] == "ok"
        fields = [b"1", b"2", name.encode(), b"raw", b""]
        await ws.send(bytes([3, *(len(f) for f in fields), 0]) + b"".join(fields) + b"\x00\xffbytes")
        frames = [await asyncio.wait_for(ws.recv(), 5) for _ in range(2)]
    binary = [f for f in frames if isinstance(f, bytes)]
    assert len(binary) == 1 and binary[0].endswith(b"raw\x00\xffbytes")
    replies = [json.loads(f) for f in frames if isinstance(f, str)]
    assert replies[0][3] == "phx_reply" and replies[0][4]["status"] == "ok"


async def test_other_media_types_are_refused(realtime_server):
    response = httpx.post(f"{realtime_server.url}/realtime/v1/api/broadcast/{topic()}/events/x",
                          headers={"apikey": realtime_server.anon_key, "content-type": "text/plain"},
                          content=b"hello")
    assert response.status_code == 415
    assert "application/octet-stream" in response.json()["error"]
