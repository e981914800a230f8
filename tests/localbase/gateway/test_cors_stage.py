"""The CORS stage (gateway/cors.py) answers what Starlette's CORSMiddleware answers with every origin,
method and header allowed, which the server used before: the same status, headers and body for
preflights (good, with an unknown method, with a private-network request, with and without requested
headers), for simple requests with and without an Origin, and over answers that carry their own
Vary or CORS headers. Pure ASGI, no server: the two stages run over the same inner app."""

from __future__ import annotations

import itertools

import pytest
from starlette.middleware.cors import CORSMiddleware

from localbase.gateway.app import EXPOSED_HEADERS
from localbase.gateway.cors import Cors

ORIGIN = (b"origin", b"https://app.example.com")
REQUESTS = {
    "no origin": ("GET", []),
    "origin": ("GET", [ORIGIN]),
    "two origins": ("POST", [ORIGIN, (b"origin", b"https://other.example")]),
    "options, no request method": ("OPTIONS", [ORIGIN]),
    "preflight": ("OPTIONS", [ORIGIN, (b"access-control-request-method", b"POST")]),
    "preflight with headers": ("OPTIONS", [ORIGIN, (b"access-control-request-method", b"PATCH"),
                                           (b"access-control-request-headers", b"authorization, apikey")]),
    "preflight, unknown method": ("OPTIONS", [ORIGIN, (b"access-control-request-method", b"BREW")]),
    "preflight, private network": ("OPTIONS", [ORIGIN, (b"access-control-request-method", b"GET"),
                                               (b"access-control-request-private-network", b"true")]),
    "preflight without origin": ("OPTIONS", [(b"access-control-request-method", b"GET")]),
}
ANSWERS = {
    "plain": [(b"content-type", b"application/json"), (b"content-length", b"2")],
    "own vary": [(b"content-type", b"application/json"), (b"vary", b"Accept"), (b"vary", b"Prefer")],
    "own cors headers": [(b"access-control-allow-origin", b"https://mine.example"),
                         (b"access-control-expose-headers", b"X-Mine")],
    "none": None,
}


def _inner(headers):
    async def app(scope, receive, send):
        start = {"type": "http.response.start", "status": 201}
        if headers is not None:
            start["headers"] = list(headers)
        await send(start)
        await send({"type": "http.response.body", "body": b"{}"})
    return app


async def _run(stage, method: str, headers) -> tuple[int, list, bytes]:
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await stage({"type": "http", "method": method, "path": "/rest/v1/x", "headers": list(headers),
                 "query_string": b""}, receive, send)
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], sorted((k.lower(), v) for k, v in start.get("headers", [])), body


@pytest.mark.parametrize(("request_kind", "answer_kind"), list(itertools.product(REQUESTS, ANSWERS)))
async def test_the_stage_answers_as_starlettes_middleware(request_kind, answer_kind):
    method, headers = REQUESTS[request_kind]
    inner = _inner(ANSWERS[answer_kind])
    theirs = CORSMiddleware(inner, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"],
                            expose_headers=EXPOSED_HEADERS, max_age=86400)
    ours = Cors(inner, EXPOSED_HEADERS, 86400)
    assert await _run(ours, method, headers) == await _run(theirs, method, headers)


async def test_a_websocket_passes_untouched():
    seen = []

    async def inner(scope, receive, send):
        seen.append(scope["type"])

    await Cors(inner, EXPOSED_HEADERS, 60)({"type": "websocket", "headers": [ORIGIN]}, None, None)
    assert seen == ["websocket"]
