"""What one request may be (settings.Limits), enforced before it costs memory.

- In the HTTP protocol (a subclass of uvicorn's httptools protocol): a request line + headers
  larger than max_url_bytes + max_header_bytes is refused while it arrives (414 or 431), and a
  declared Content-Length over max_body_bytes is refused before the body is read (413); the
  connection is then closed. uvicorn itself would buffer any size (its URL parser gives up at
  64 KiB only after reading all of it).
- In the app, for bodies without a Content-Length (chunked): counted as they arrive; past the
  limit the app's answer is replaced by 413 (REST counts its own, see rest/routes.py).
- /storage/v1 is exempt from max_body_bytes: Storage streams bodies to disk and enforces its own
  limits ([storage] file_size_limit, each bucket's) as they arrive (see storage/receive.py).

Every refusal has the error shape of the service the path belongs to (PostgREST, GoTrue,
Functions, or the gateway's `{"message"}`)."""

from __future__ import annotations

import logging

import orjson

from localbase.auth import errors as auth_errors
from localbase.gateway.one_write import OneWrite
from localbase.rest import errors as rest_errors
from localbase.settings import Limits

log = logging.getLogger("localbase.gateway")

LINGER_SECONDS = 2.0
REASONS = {413: "Payload Too Large", 414: "URI Too Long", 431: "Request Header Fields Too Large"}
_REST_CODES = {413: rest_errors.PAYLOAD_TOO_LARGE, 414: rest_errors.URI_TOO_LONG, 431: rest_errors.HEADERS_TOO_LARGE}
_FUNCTION_CODES = {413: "PAYLOAD_TOO_LARGE", 414: "URI_TOO_LONG", 431: "HEADERS_TOO_LARGE"}
STORAGE_PREFIX = "/storage/v1"


def error_body(path: str, status: int, message: str) -> bytes:
    """`message` in the error shape of the service at `path`."""
    body: dict[str, object]
    if path.startswith("/rest/v1"):
        body = {"code": _REST_CODES[status].code, "details": message, "hint": None,
                "message": REASONS.get(status, message)}
    elif path.startswith("/auth/v1"):
        body = {"code": status, "error_code": auth_errors.REQUEST_TOO_LARGE.error_code, "msg": message}
    elif path.startswith(STORAGE_PREFIX):
        body = {"statusCode": str(status), "code": "EntityTooLarge" if status == 413 else "InvalidRequest",
                "error": REASONS.get(status, "Bad Request"), "message": message}
    elif path.startswith("/functions/v1"):
        code = _FUNCTION_CODES.get(status, "BAD_REQUEST")
        body = {"code": code, "message": message, "error": message}
    else:
        body = {"message": message}
    return orjson.dumps(body)


def http_response(path: str, status: int, message: str) -> bytes:
    body = error_body(path, status, message)
    return b"".join((
        f"HTTP/1.1 {status} {REASONS.get(status, 'Bad Request')}\r\n".encode(),
        b"content-type: application/json\r\ncontent-length: ", str(len(body)).encode(),
        b"\r\nconnection: close\r\n\r\n", body))


def http_protocol(limits: Limits):
    """uvicorn's `http=` protocol class with the limits, or "auto" without httptools."""
    try:
        import httptools
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - uvicorn without [standard]
        return "auto"

    class Refused(Exception):
        pass

    class LimitedHttpToolsProtocol(HttpToolsProtocol):
        max_head = limits.max_url_bytes + limits.max_header_bytes
        _in_head = True  # between requests or inside a request's head
        _head_bytes = 0  # bytes received in chunks in which no head completed
        _heads = 0  # heads completed on this connection
        _done = 0  # requests completed on this connection
        _discarding = False
        _refusal: tuple[int, str] | None = None

        def data_received(self, data: bytes) -> None:
            if self._discarding:
                return  # what a refused client still sends (see _refuse)
            self._refusal = None
            before = (self._in_head, self._heads, self._done)
            super().data_received(data)
            # count only a chunk that was all head: no head and no request completed inside it
            if before == (True, self._heads, self._done) and self._in_head and not self.transport.is_closing():
                self._head_bytes += len(data)
                if self._head_bytes > self.max_head:
                    if len(getattr(self, "url", b"")) > limits.max_url_bytes or not getattr(self, "headers", None):
                        self._refuse(414, f"The request URI exceeds {limits.max_url_bytes} bytes")
                    else:
                        self._refuse(431, f"The request headers exceed {limits.max_header_bytes} bytes")

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head = True

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._head_bytes = 0
            self._heads += 1
            if len(self.url) > limits.max_url_bytes:
                self._refusal = (414, f"The request URI exceeds {limits.max_url_bytes} bytes")
                raise Refused
            size, length = 0, None  # the headers' size, and the first Content-Length: one pass
            for n, v in self.headers:
                size += len(n) + len(v) + 4
                if length is None and n == b"content-length":
                    length = v
            if size > limits.max_header_bytes:
                self._refusal = (431, f"The request headers exceed {limits.max_header_bytes} bytes")
                raise Refused
            if length is not None and length.isdigit() and int(length) > limits.max_body_bytes \
                    and not self.url.startswith(b"/storage/v1/"):
                self._refusal = (413, f"The request body exceeds {limits.max_body_bytes} bytes")
                raise Refused  # httptools stops parsing; uvicorn answers through send_400_response
            before = getattr(self, "cycle", None)
            super().on_headers_complete()
            cycle = getattr(self, "cycle", None)
            if cycle is not None and cycle is not before:  # (an upgrade makes none)
                cycle.transport = OneWrite(cycle.transport, cycle)

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._done += 1
            self._in_head = True
            self._head_bytes = 0

        def send_400_response(self, msg: str) -> None:
            if self._refusal is None:
                return super().send_400_response(msg)
            self._refuse(*self._refusal)

        def _refuse(self, status: int, message: str) -> None:
            path = getattr(self, "url", b"").split(b"?", 1)[0].decode("latin-1")
            log.info("refused a request to %s: %s", path[:100], message)
            cycle = getattr(self, "cycle", None)
            if cycle is not None and not cycle.response_complete:  # a pipelined request still answering
                self.transport.close()
                return
            self.transport.write(http_response(path, status, message))
            # Lingering close (as nginx): closing with unread data would reset the connection and
            # the client, still sending, might never read the answer; so half-close, discard what
            # comes for a moment, then close.
            self._discarding = True
            if self.transport.can_write_eof():
                self.transport.write_eof()
            self.loop.call_later(LINGER_SECONDS, self.transport.close)

    assert issubclass(httptools.HttpParserCallbackError, httptools.HttpParserError)
    return LimitedHttpToolsProtocol


class BodyCounter:
    """A body of unknown length counted as it arrives (`receive` in place of the server's): past
    `limit` the app reads a disconnect, so nothing more is buffered, and `tripped` tells the
    gateway to drop whatever the app answers to the cut body and answer `refusal()` (413) instead."""

    __slots__ = ("_receive", "limit", "received", "tripped")

    def __init__(self, receive, limit: int):
        self._receive = receive
        self.limit = limit
        self.received = 0
        self.tripped = False

    async def receive(self):
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                self.tripped = True
                return {"type": "http.disconnect"}  # the app stops reading; nothing more is buffered
        return message

    def refusal(self, path: str) -> tuple[dict, dict]:
        """The 413's two messages, in the error shape of the service at `path`."""
        body = error_body(path, 413, f"The request body exceeds {self.limit} bytes")
        return ({"type": "http.response.start", "status": 413,
                 "headers": [(b"content-type", b"application/json"), (b"connection", b"close")]},
                {"type": "http.response.body", "body": body})


def unknown_length(scope) -> bool:
    """A request whose body comes without a Content-Length (chunked), outside Storage (which counts
    its own against its limits). (Every request asks: one pass over the headers.)"""
    if scope["path"].startswith(STORAGE_PREFIX):
        return False
    chunked = False
    for name, _ in scope["headers"]:
        if name == b"content-length":
            return False
        if name == b"transfer-encoding":
            chunked = True
    return chunked
