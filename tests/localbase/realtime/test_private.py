"""Private channels (Realtime Authorization) with the official async client: RLS policies on
realtime.messages (tests/localbase/realtime/project) decide who may join, receive and send.

Policies: signed-in users read the lobby and their own room `room:<uid>`; they may broadcast in
the lobby and in their room, and track presence in their room only."""

from __future__ import annotations

import asyncio

import httpx

from tests.localbase.realtime.conftest import Inbox, client, new_user


async def _private(c, name: str, *, ack: bool = False, presence_key: str = "", **callbacks):
    """(channel, status inbox) after a subscribe attempt to private `name`."""
    ch = c.channel(name, {"config": {"private": True, "broadcast": {"self": False, "ack": ack},
                                     "presence": {"key": presence_key, "enabled": bool(presence_key)}}})
    for event, inbox in callbacks.items():
        ch.on_broadcast(event, inbox)
    if presence_key:
        ch.on_presence_sync(lambda: None)
    status = Inbox()
    await ch.subscribe(status)
    await status.wait_for(1)
    return ch, status


async def _user(server, clients):
    uid, token = new_user(server)
    c = await client(server, token)
    clients.append(c)
    return uid, token, c


async def test_joining_needs_a_read_policy(realtime_server, clients):
    anon = await client(realtime_server)
    clients.append(anon)
    _, status = await _private(anon, "lobby")
    state, error = status.items[-1]
    assert state == "CHANNEL_ERROR"
    assert "Unauthorized: You do not have permissions to read from this Channel topic: lobby" in str(error)

    uid_a, _, a = await _user(realtime_server, clients)
    _, _, b = await _user(realtime_server, clients)
    _, ok = await _private(a, f"room:{uid_a}")
    assert ok.items[-1][0] == "SUBSCRIBED"
    _, refused = await _private(b, f"room:{uid_a}")  # someone else's room
    assert refused.items[-1][0] == "CHANNEL_ERROR"


async def test_private_broadcasts_reach_private_members_only(realtime_server, clients):
    _, _, a = await _user(realtime_server, clients)
    _, _, b = await _user(realtime_server, clients)
    got_b, got_public = Inbox(), Inbox()
    ch_a, _ = await _private(a, "lobby")
    await _private(b, "lobby", msg=got_b)
    public = await client(realtime_server)
    clients.append(public)
    pub = public.channel("lobby", {"config": {"broadcast": {"self": False}}}).on_broadcast("msg", got_public)
    await pub.subscribe()
    await asyncio.sleep(0.2)

    await ch_a.send_broadcast("msg", {"n": 1})
    (msg,) = await got_b.wait_for(1)
    assert msg["payload"] == {"n": 1}
    await pub.send_broadcast("msg", {"n": 2})  # public on the same name: not to the private members
    await asyncio.sleep(0.4)
    assert len(got_b.items) == 1 and got_public.items == []


async def test_sending_needs_an_insert_policy(realtime_server, clients, db):
    await db.execute("create policy \"anyone signed in reads hall\" on realtime.messages for select "
                     "to authenticated using (realtime.topic() = 'hall')")
    try:
        _, _, a = await _user(realtime_server, clients)
        _, _, b = await _user(realtime_server, clients)
        got_b = Inbox()
        ch_a, _ = await _private(a, "hall", ack=True)
        await _private(b, "hall", msg=got_b)
        replied = asyncio.get_running_loop().create_future()
        push = await ch_a.push("broadcast", {"type": "broadcast", "event": "msg", "payload": {"n": 1}})
        push.receive("error", lambda resp: replied.set_result(("error", resp)))
        push.receive("ok", lambda resp: replied.set_result(("ok", resp)))
        status, resp = await asyncio.wait_for(replied, 5)
        assert status == "error" and "permissions to write to this Channel topic: hall" in resp["reason"]
        await asyncio.sleep(0.3)
        assert got_b.items == []  # nothing went out
    finally:
        await db.execute("drop policy \"anyone signed in reads hall\" on realtime.messages")


async def test_presence_follows_the_policies(realtime_server, clients):
    uid, token, a = await _user(realtime_server, clients)
    room, _ = await _private(a, f"room:{uid}", presence_key="me")
    await room.track({"online": True})  # allowed in one's own room
    deadline = asyncio.get_running_loop().time() + 5
    while "me" not in room.presence_state() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert "me" in room.presence_state()
    lobby, _ = await _private(a, "lobby", presence_key="me-too")
    refused = asyncio.get_running_loop().create_future()
    push = await lobby.push("presence", {"type": "presence", "event": "track", "payload": {"online": True}})
    push.receive("error", lambda resp: refused.set_result(resp))
    push.receive("ok", lambda resp: refused.set_result(None))
    assert "permissions to track presence" in (await asyncio.wait_for(refused, 5))["reason"]


async def test_http_broadcast_to_a_private_topic(realtime_server, clients):
    uid, _, a = await _user(realtime_server, clients)
    got = Inbox()
    await _private(a, f"room:{uid}", msg=got)
    url = f"{realtime_server.url}/realtime/v1/api/broadcast"
    message = {"messages": [{"topic": f"room:{uid}", "event": "msg", "payload": {"n": 1}, "private": True}]}
    anon = httpx.post(url, headers={"apikey": realtime_server.anon_key}, json=message)
    assert anon.status_code == 403 and "permissions to write" in anon.json()["message"]
    service = httpx.post(url, headers={"apikey": realtime_server.service_role_key}, json=message)
    assert service.status_code == 202  # the service role bypasses RLS
    (msg,) = await got.wait_for(1)
    assert msg["payload"] == {"n": 1}


async def test_a_token_that_loses_access_closes_the_channel(realtime_server, clients):
    uid, _, a = await _user(realtime_server, clients)
    ch, status = await _private(a, f"room:{uid}")
    _, other_token = new_user(realtime_server)
    await a.realtime.set_auth(other_token)  # another user's token: not their room
    items = await status.wait_for(2)
    assert items[1][0] == "CHANNEL_ERROR" and "permissions to read from this Channel topic" in str(items[1][1]), items


async def test_a_public_join_cannot_pose_as_a_private_channel(realtime_server, clients):
    """Review finding: a public topic spelled like a private channel's key must not share it."""
    uid, _, a = await _user(realtime_server, clients)
    got_a, got_intruder = Inbox(), Inbox()
    await _private(a, f"room:{uid}", msg=got_a)
    intruder = await client(realtime_server)
    clients.append(intruder)
    for name in (f"private|realtime:room:{uid}", f"room:{uid}"):
        ch = intruder.channel(name).on_broadcast("msg", got_intruder)
        await ch.subscribe()
    r = httpx.post(f"{realtime_server.url}/realtime/v1/api/broadcast",
                   headers={"apikey": realtime_server.service_role_key},
                   json={"messages": [{"topic": f"room:{uid}", "event": "msg", "payload": {"n": 1}, "private": True}]})
    assert r.status_code == 202
    await got_a.wait_for(1)
    await asyncio.sleep(0.4)
    assert got_intruder.items == []
