"""A real HTTP server in the test process that records what pg_net's sender sends it.

Paths: /ok answers 200 with a JSON echo of the request; /slow?ms=N waits N ms first (the most
answered at once is counted); /status/N answers status N. Every request is recorded (method,
path, query, headers, body) as it arrives."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    seen: list[Seen] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    inflight: int = 0  # requests being answered now
    most_inflight: int = 0  # the most at once
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Seen(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
                receiver.seen.append(seen)
                status = 200
                if parts.path == "/slow":
                    with receiver._lock:
                        receiver.inflight += 1
                        receiver.most_inflight = max(receiver.most_inflight, receiver.inflight)
                    time.sleep(int(seen.query.get("ms", ["1000"])[0]) / 1000)
                    with receiver._lock:
                        receiver.inflight -= 1
                elif parts.path.startswith("/status/"):
                    status = int(parts.path.rsplit("/", 1)[1])
                out = json.dumps({"method": self.command, "path": parts.path, "body": body.decode()}).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("x-receiver", "yes")
                    self.send_header("content-length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up (timeout): nothing to answer

            do_GET = do_POST = do_DELETE = _handle

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 1024  # a sender opens hundreds of connections at once

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def wait(self, predicate, timeout: float = 10.0, what: str = "requests") -> list[Seen]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.seen):
                return self.seen
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}; got {self.seen!r}")
