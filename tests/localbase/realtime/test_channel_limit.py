"""One socket may not open unlimited channels (issue 12, item 8): past `[realtime]
max_channels_per_client` (100, Supabase's default) a join is refused with Supabase Realtime's reply,
`{"status": "error", "response": {"reason": "ChannelRateLimitReached: Too many channels"}}`; the
socket and its channels live on, and a channel left makes room for another."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from localbase.realtime.service import RealtimeConfig
from localbase.settings import SettingsError, load_settings
from tests.localbase.realtime.conftest import Inbox, client, topic

REASON = "ChannelRateLimitReached: Too many channels"


async def _join(ws, name: str, ref: int) -> dict:
    await ws.send(json.dumps({"topic": name, "event": "phx_join", "ref": str(ref), "join_ref": str(ref),
                              "payload": {"config": {"broadcast": {"self": True}, "postgres_changes": []}}}))
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame["event"] == "phx_reply" and frame["ref"] == str(ref):
            return frame["payload"]


async def test_a_socket_cannot_open_more_than_100_channels(realtime_server):
    url = realtime_server.url.replace("http", "ws") + f"/realtime/v1/websocket?apikey={realtime_server.anon_key}"
    names = [f"realtime:{topic()}" for _ in range(101)]
    async with websockets.connect(url) as ws:
        for i, name in enumerate(names[:100]):
            assert (await _join(ws, name, i))["status"] == "ok"
        refused = await _join(ws, names[100], 100)
        assert refused == {"status": "error", "response": {"reason": REASON}}
        # a rejoin of a channel it has replaces it: not a 101st channel
        assert (await _join(ws, names[5], 101))["status"] == "ok"
        # the socket lives on: its channels still receive, and leaving one makes room
        await ws.send(json.dumps({"topic": names[0], "event": "phx_leave", "ref": "102", "join_ref": "0",
                                  "payload": {}}))
        assert (await _join(ws, names[100], 103))["status"] == "ok"
        await ws.send(json.dumps({"topic": names[100], "event": "broadcast", "ref": "104", "join_ref": "103",
                                  "payload": {"type": "broadcast", "event": "ping", "payload": {"n": 1}}}))
        events = []
        while "broadcast" not in events:
            events.append(json.loads(await asyncio.wait_for(ws.recv(), 10))["event"])


async def test_the_official_client_sees_the_refusal(realtime_server, clients):
    c = await client(realtime_server)
    clients.append(c)
    for _ in range(100):
        status = Inbox()
        await c.channel(topic()).subscribe(status)
        assert status.items[-1][0] == "SUBSCRIBED"
    status = Inbox()
    await c.channel(topic()).subscribe(status)
    assert status.items[-1][0] == "CHANNEL_ERROR" and REASON in str(status.items[-1][1])


def test_the_limit_is_a_setting(tmp_path):
    (tmp_path / "supabase").mkdir()
    (tmp_path / "supabase" / "localbase.toml").write_text("[realtime]\nmax_channels_per_client = 3\n")
    assert RealtimeConfig.from_settings(load_settings(tmp_path, with_keys=False)).max_channels == 3
    assert RealtimeConfig.from_settings(load_settings(tmp_path / "none", with_keys=False)).max_channels == 100
    (tmp_path / "supabase" / "localbase.toml").write_text("[realtime]\nmax_channels_per_client = 0\n")
    with pytest.raises(SettingsError, match="max_channels_per_client"):
        RealtimeConfig.from_settings(load_settings(tmp_path, with_keys=False))
