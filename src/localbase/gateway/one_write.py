"""One write per small response: uvicorn's httptools cycle writes a response's head (status line and
headers) when the app starts the response, then its body: two writes, two segments on the socket
and two wake-ups of the client for every REST answer. `OneWrite` stands in for the cycle's
transport and holds the head until the body's first write, then sends both at once.

It holds the head only when that write is certain to come: a response with a Content-Length (not
chunked: a stream's first chunk may be late, and its head goes at once) to a method other than
HEAD (uvicorn writes no body for HEAD); uvicorn writes the body of such a response even when it is
empty. A close sends what is held first (an app that fails after starting its response)."""

from __future__ import annotations

_FRESH, _HOLDING, _DONE = 0, 1, 2
_JOIN_UP_TO = 64 * 1024  # larger bodies are not copied to join them to the head


class OneWrite:
    __slots__ = ("_transport", "_cycle", "_state", "_head")

    def __init__(self, transport, cycle):
        self._transport = transport
        self._cycle = cycle  # uvicorn's RequestResponseCycle: response_started, chunked_encoding, scope
        self._state = _FRESH
        self._head = b""

    def write(self, data: bytes) -> None:
        if self._state == _HOLDING:
            self._state = _DONE
            head, self._head = self._head, b""
            if len(data) <= _JOIN_UP_TO:
                self._transport.write(head + data)
            else:
                self._transport.writelines((head, data))
            return
        if self._state == _FRESH:
            cycle = self._cycle
            if cycle.response_started:  # the first write after the start is the head
                self._state = _DONE
                if cycle.chunked_encoding is False and cycle.scope["method"] != "HEAD":
                    self._state, self._head = _HOLDING, bytes(data)
                    return
        self._transport.write(data)

    def close(self) -> None:
        if self._state == _HOLDING:
            self.write(b"")
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str):  # anything else a cycle may ask of its transport
        return getattr(self._transport, name)
