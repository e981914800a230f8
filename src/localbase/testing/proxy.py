"""A round-robin load balancer for tests and benchmarks, as an ordinary one is set up in front of
several Localbase nodes (docs/scale-out.md): asyncio, TCP underneath.

- Each new client connection goes to the next backend; a backend that refuses the connection is
  skipped (a passive health check, as Caddy's and nginx's), so clients of a killed node reach
  another one when they reconnect.
- `per_request=True`: every HTTP request is a connection of its own to a backend (the request is
  sent with `Connection: close`, so the client opens a new connection for its next one): requests
  are spread over the nodes one by one, as an HTTP balancer spreads them. A WebSocket upgrade is
  kept as it is and forwarded byte for byte for the socket's life.
- `per_request=False`: plain TCP balancing, a connection sticks to its backend.

Runs in a thread of its own (`start()` / `stop()`), so sync and async tests can use it alike.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

HEAD_LIMIT = 64 * 1024
BAD_GATEWAY = b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


def close_after(head: bytes) -> bytes:
    """The request head with `Connection: close` in place of any Connection / Keep-Alive header."""
    lines = head[:-4].split(b"\r\n")
    kept = [line for line in lines[1:] if not line.lower().startswith((b"connection:", b"keep-alive:"))]
    return b"\r\n".join([lines[0], *kept, b"Connection: close"]) + b"\r\n\r\n"


def is_upgrade(head: bytes) -> bool:
    lowered = head.lower()
    return b"\r\nupgrade:" in lowered and b"websocket" in lowered


class RoundRobinProxy:
    def __init__(self, backends: list[tuple[str, int]], *, per_request: bool = True, host: str = "127.0.0.1",
                 port: int = 0):
        self.backends = list(backends)
        self.per_request = per_request
        self.host = host
        self.port = port
        self.requests: Counter[int] = Counter()  # backend index -> connections (requests) given to it
        self.upgrades: Counter[int] = Counter()  # backend index -> WebSocket upgrades given to it
        self.open_sockets: Counter[int] = Counter()  # backend index -> WebSocket tunnels open now
        self.refused: Counter[int] = Counter()  # backend index -> connections it refused
        self.prefer: int | None = None  # tests: try this backend first
        self._next = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- lifecycle (a thread with its own loop) --------------------------------------------------
    def start(self) -> RoundRobinProxy:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._client, self.host, self.port, limit=HEAD_LIMIT, backlog=1024))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=run, name="round-robin-proxy", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shut() -> None:
            self._server.close()  # type: ignore[union-attr]
            for writer in list(self._writers):
                writer.close()
            self._loop.stop()  # type: ignore[union-attr]

        asyncio.run_coroutine_threadsafe(shut(), self._loop)
        self._thread.join(10)  # type: ignore[union-attr]
        self._loop = None

    # -- one client connection ---------------------------------------------------------------------
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            if self.per_request:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                upgrade = is_upgrade(head)
                if not upgrade:
                    head = close_after(head)
            else:
                head, upgrade = b"", False
            chosen = await self._connect()
            if chosen is None:
                writer.write(BAD_GATEWAY)
                return
            index, up_reader, up_writer = chosen
            self._writers.add(up_writer)
            self.requests[index] += 1
            if upgrade:
                self.upgrades[index] += 1
                self.open_sockets[index] += 1
            try:
                up_writer.write(head)
                # either side ending ends both (a killed backend: its clients see their socket close)
                pipes = [asyncio.ensure_future(_pipe(reader, up_writer)),
                         asyncio.ensure_future(_pipe(up_reader, writer))]
                _, pending = await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
                for task in pending:
                    task.cancel()
            finally:
                if upgrade:
                    self.open_sockets[index] -= 1
                self._writers.discard(up_writer)
                up_writer.close()
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _connect(self):
        order = list(range(len(self.backends)))
        start = self._next % len(order)
        self._next += 1
        order = order[start:] + order[:start]
        if self.prefer is not None and self.prefer in order:
            order.remove(self.prefer)
            order.insert(0, self.prefer)
        for index in order:
            host, port = self.backends[index]
            try:
                up_reader, up_writer = await asyncio.open_connection(host, port, limit=HEAD_LIMIT)
            except OSError:
                self.refused[index] += 1
                continue
            return index, up_reader, up_writer
        return None


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF or a reset (either is the end of this direction's stream)."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionResetError:
        writer.transport.abort()  # pass the reset on
    except (ConnectionError, OSError):
        writer.close()
