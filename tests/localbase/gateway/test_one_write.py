"""The server's HTTP protocol sends a response's head with its body in one write (gateway/one_write.py),
and still sends a stream's head at once, answers HEAD, keeps connections alive, and closes cleanly
when an app fails after starting its response. A real uvicorn server on a real socket."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import SimpleNamespace

import pytest
import uvicorn

from localbase.gateway.limits import http_protocol
from localbase.gateway.one_write import OneWrite
from localbase.settings import Limits
from localbase.testing.server import free_port

release_stream = threading.Event()


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    path = scope["path"]
    if path == "/stream":  # chunked: the head must leave before the first chunk exists
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        while not release_stream.is_set():
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"late", "more_body": False})
        return
    if path == "/fail":  # starts a response with a length, then fails before its body
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
        raise RuntimeError("failed after the start")
    body = b'{"id":1}' if path == "/small" else b"x" * 200_000
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def server():
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=http_protocol(Limits()), log_level="critical",
                            lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    yield port
    srv.should_exit = True
    thread.join(10)


def _read_response(sock: socket.socket, head_only: bool = False) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before the head: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if head_only:
        return head, body
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed before the body"
        body += chunk
    return head, body


class Recorder:
    def __init__(self):
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def writelines(self, chunks) -> None:
        self.writes.append(b"".join(chunks))

    def close(self) -> None:
        self.closed = True


def _cycle(method: str = "GET", chunked: bool | None = False):
    return SimpleNamespace(response_started=True, chunked_encoding=chunked, scope={"method": method})


@pytest.mark.parametrize("body", [b'{"id":1}', b"", b"x" * 100_000])
def test_a_response_with_a_length_is_one_write(body):
    transport = Recorder()
    out = OneWrite(transport, _cycle())
    out.write(b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\n")
    assert transport.writes == []
    out.write(body)
    assert transport.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\n" + body]
    out.write(b"more")  # later writes pass through
    assert transport.writes[-1] == b"more"


@pytest.mark.parametrize(("method", "chunked"), [("GET", True), ("HEAD", False), ("GET", None)])
def test_heads_that_no_body_write_may_follow_go_at_once(method, chunked):
    transport = Recorder()
    OneWrite(transport, _cycle(method, chunked)).write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert transport.writes == [b"HTTP/1.1 200 OK\r\n\r\n"]


def test_a_write_before_the_response_starts_goes_at_once():
    transport = Recorder()
    cycle = _cycle()
    cycle.response_started = False
    OneWrite(transport, cycle).write(b"HTTP/1.1 100 Continue\r\n\r\n")  # as uvicorn answers Expect
    assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]


def test_a_close_sends_the_held_head_first():
    transport = Recorder()
    out = OneWrite(transport, _cycle())
    out.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
    out.close()
    assert transport.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"] and transport.closed


def test_responses_on_a_kept_alive_connection(server):
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        for _ in range(3):  # keep-alive: each response whole, one after the other
            sock.sendall(b"GET /small HTTP/1.1\r\nhost: x\r\n\r\n")
            head, body = _read_response(sock)
            assert head.startswith(b"HTTP/1.1 200") and body == b'{"id":1}'


def test_a_large_body_follows_its_head(server):
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        sock.sendall(b"GET /large HTTP/1.1\r\nhost: x\r\n\r\n")
        head, body = _read_response(sock)
        assert head.startswith(b"HTTP/1.1 200") and body == b"x" * 200_000


def test_head_requests_are_answered(server):
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        sock.sendall(b"HEAD /small HTTP/1.1\r\nhost: x\r\n\r\n")
        head, rest = _read_response(sock, head_only=True)
        assert head.startswith(b"HTTP/1.1 200") and b"content-length: 8" in head.lower() and rest == b""


def test_a_streams_head_is_not_held_for_its_first_chunk(server):
    release_stream.clear()
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        sock.sendall(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
        head, _ = _read_response(sock, head_only=True)  # arrives while the app still holds its body
        assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head.lower()
        release_stream.set()
        rest = b""
        while not rest.endswith(b"0\r\n\r\n"):
            rest += sock.recv(65536)
        assert b"late" in rest


def test_an_app_failing_after_its_start_closes_the_connection(server):
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        sock.sendall(b"GET /fail HTTP/1.1\r\nhost: x\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        assert data.startswith(b"HTTP/1.1 200")  # the head that was held is sent, then the close
