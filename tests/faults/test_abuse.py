"""Abusive clients: oversized and malformed requests and frames, and a thousand WebSockets. Each
gets a 4xx status or a close code, in the error shape of the service it called, quickly and
without the server buffering what it refuses; a normal client's request succeeds right after."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
import time

import httpx
import orjson
import psutil
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.faults.conftest import assert_normal_request_works, new_user, rest_headers

MB = 2**20


@pytest.fixture(scope="module")
def server():
    from localbase.testing.server import LocalbaseProcess
    from tests.faults.conftest import PROJECT
    server = LocalbaseProcess(PROJECT).start()
    yield server
    server.cleanup()


def rss_mb(server) -> float:
    return psutil.Process(server.process.pid).memory_info().rss / MB


def raw_request(server, head: bytes, body_size: int = 0, *, piece: bytes = b"[" * 65536,
                chunked: bool = False) -> tuple[float, int, bytes]:
    """Send a request by hand (clients refuse to send such things); returns (seconds, status, body)."""
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as s:
        s.sendall(head)
        sent = 0
        try:
            while sent < body_size:
                s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent += len(piece)
            if chunked:
                s.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # refused and closed while we were still sending
        response = b""
        while True:
            try:
                data = s.recv(65536)
            except OSError:
                break
            if not data:
                break
            response += data
    head_part, _, body = response.partition(b"\r\n\r\n")
    status = int(head_part.split(b" ", 2)[1]) if head_part.startswith(b"HTTP/1.1") else 0
    if b"transfer-encoding: chunked" in head_part.lower():
        body = body.split(b"\r\n", 1)[1].rsplit(b"\r\n0\r\n", 1)[0]
    return time.monotonic() - began, status, body


def head(server, method: str, target: str, extra: str = "", token: str | None = None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"{method} {target} HTTP/1.1\r\nHost: localhost\r\napikey: {server.anon_key}\r\n{auth}"
            f"Content-Type: application/json\r\nConnection: close\r\n{extra}\r\n").encode()


SHAPES = {
    "/rest/v1/items": {"code", "details", "hint", "message"},
    "/auth/v1/signup": {"code", "error_code", "msg"},
    "/functions/v1/echo": {"code", "message", "error"},
    "/realtime/v1/api/broadcast": {"message"},
}


@pytest.mark.slow
@pytest.mark.parametrize("path", list(SHAPES))
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_100_mb_body_is_refused_with_413_without_being_read(server, path, chunked):
    size = 100 * MB
    before = rss_mb(server)
    extra = "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {size}\r\n"
    took, status, body = raw_request(server, head(server, "POST", path, extra), size, chunked=chunked)
    assert status == 413, body
    assert set(orjson.loads(body)) == SHAPES[path], body
    assert took < 10, took
    assert rss_mb(server) - before < 40, "the refused body was buffered"
    assert_normal_request_works(server)


@pytest.mark.parametrize("path", ["/rest/v1/items", "/auth/v1/signup", "/rest/v1/rpc/anything"])
@pytest.mark.parametrize("body", [
    b'{"batch": 1, "n": 2, "note": "\xff\xfe\xc3"}',  # invalid UTF-8
    b"[" * 100_000 + b"]" * 100_000,  # 100k levels of arrays
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,  # 100k levels of objects
    b'{"batch": 1,',  # truncated
], ids=["invalid-utf8", "nested-arrays", "nested-objects", "truncated"])
def test_bad_json_is_a_400_in_the_service_shape(server, path, body):
    _, token = new_user(server)
    r = httpx.post(f"{server.url}{path}", content=body, timeout=10,
                   headers={**rest_headers(server, token), "Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert set(r.json()) == SHAPES.get(path, SHAPES["/rest/v1/items"]), r.text
    assert_normal_request_works(server)


@pytest.mark.parametrize("size", [100_000, 10 * MB, 100 * MB], ids=["100k", "10M", "100M"])
def test_giant_query_string_is_a_414(server, size):
    before = rss_mb(server)
    target = "/rest/v1/items?select=id&note=eq." + "a" * size
    took, status, body = raw_request(server, head(server, "GET", target))
    assert status == 414, body
    assert set(orjson.loads(body)) == SHAPES["/rest/v1/items"], body
    assert took < 10 and rss_mb(server) - before < 40
    assert_normal_request_works(server)


def test_query_string_under_the_limit_is_served(server):
    r = httpx.get(f"{server.url}/rest/v1/items?select=id&note=in.({','.join(['a'] * 5000)})",
                  headers=rest_headers(server), timeout=10)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("size", [100_000, 100 * MB], ids=["100k", "100M"])
def test_giant_headers_are_a_431(server, size):
    before = rss_mb(server)
    request = head(server, "GET", "/auth/v1/settings", "X-Big: " + "a" * size + "\r\n")
    took, status, body = raw_request(server, request)
    assert status == 431, body
    assert set(orjson.loads(body)) == SHAPES["/auth/v1/signup"], body
    assert took < 10 and rss_mb(server) - before < 40
    assert_normal_request_works(server)


# -- WebSockets -------------------------------------------------------------------------------------

def ws_url(server) -> str:
    return f"ws://127.0.0.1:{server.port}/realtime/v1/websocket?apikey={server.anon_key}&vsn=1.0.0"


async def heartbeat_works(server) -> None:
    async with connect(ws_url(server)) as ws:
        await ws.send(orjson.dumps({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": "1"}).decode())
        reply = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
        assert reply["event"] == "phx_reply" and reply["payload"]["status"] == "ok", reply


@pytest.mark.slow
async def test_a_thousand_websockets_are_bounded_by_the_connection_limit(server):
    """[realtime] max_connections = 500 in this project: of 1,000 sockets from one client, 500 are
    served and 500 closed at once with 1013 ('try again later'); memory stays bounded."""
    before = rss_mb(server)
    opened: list = []
    refused: list[int] = []

    async def open_one() -> None:
        ws = await connect(ws_url(server), open_timeout=30)
        try:
            await asyncio.wait_for(ws.recv(), 0.5)
        except ConnectionClosed as exc:
            refused.append(exc.rcvd.code if exc.rcvd else 0)
            return
        except TimeoutError:
            pass
        opened.append(ws)

    gate = asyncio.Semaphore(100)

    async def limited() -> None:
        async with gate:
            await open_one()

    await asyncio.gather(*(limited() for _ in range(1000)))
    deadline = time.monotonic() + 10
    while len(opened) > 500 and time.monotonic() < deadline:  # refusals a loaded machine sent after 0.5 s
        await asyncio.sleep(0.2)
        late = [ws for ws in opened if ws.close_code is not None]
        refused.extend(ws.close_code for ws in late)
        opened = [ws for ws in opened if ws.close_code is None]
    peak = rss_mb(server)
    try:
        assert len(opened) == 500 and len(refused) == 500, (len(opened), len(refused))
        assert set(refused) == {1013}
        for ws in opened[:3]:  # the accepted ones are served
            await ws.send(orjson.dumps({"topic": "phoenix", "event": "heartbeat", "payload": {},
                                        "ref": "1"}).decode())
            assert orjson.loads(await asyncio.wait_for(ws.recv(), 5))["payload"]["status"] == "ok"
    finally:
        await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
    per_socket_kb = (peak - before) * 1024 / 500
    print(f"\nserver RSS {before:.0f} MB -> {peak:.0f} MB with 500 open sockets "
          f"({per_socket_kb:.0f} KB per socket)")
    assert peak - before < 100, f"{peak - before:.0f} MB for 500 idle sockets"
    deadline = time.monotonic() + 10
    while True:  # the server notices the closes, then a normal client gets in
        try:
            await heartbeat_works(server)
            break
        except ConnectionClosed:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
    assert_normal_request_works(server)


async def test_oversized_websocket_frame_closes_with_1009(server):
    async with connect(ws_url(server), max_size=None) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.send("x" * (2 * MB))
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    await heartbeat_works(server)


async def test_malformed_frames_are_ignored_and_the_socket_keeps_working(server):
    """Frames that are not Phoenix messages (no JSON, wrong shape, wrong types) are dropped and
    logged; the socket stays open, as a client bug should not cost its other channels."""
    async with connect(ws_url(server)) as ws:
        for frame in ["not json", "[1, 2]", '{"topic": 1, "event": []}', "{}", "null", '"x"',
                      "[" * 10_000 + "]" * 10_000, '{"topic": "realtime:x", "event": "phx_join"}']:
            await ws.send(frame)
        await ws.send(b"\x00\x01binary")
        await ws.send(orjson.dumps({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": "9"}).decode())
        while True:
            reply = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
            if reply.get("ref") == "9":
                assert reply["payload"]["status"] == "ok"
                break
    await heartbeat_works(server)


def test_invalid_utf8_text_frame_closes_with_1007(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET /realtime/v1/websocket?apikey={server.anon_key}&vsn=1.0.0 HTTP/1.1\r\n"
                   f"Host: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            response += s.recv(4096)
        assert response.startswith(b"HTTP/1.1 101"), response
        payload, mask = b'{"topic": "\xff\xfe"}', os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)  # FIN + text, masked
        data = response.split(b"\r\n\r\n", 1)[1]
        deadline = time.monotonic() + 5
        while len(data) < 4 and time.monotonic() < deadline:
            data += s.recv(4096)
    assert data[0] == 0x88, data  # a close frame
    assert struct.unpack("!H", data[2:4])[0] == 1007
    assert_normal_request_works(server)
