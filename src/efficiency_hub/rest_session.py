"""The REST requests of postgrest-py's query builders sent straight on one aiohttp pool.

postgrest-py builds a query (table, filters, headers, body) and hands it to its session's
`request(method, url, content=, params=, headers=, auth=)`, then reads the httpx.Response it gets
back (status, body, headers; its errors are parsed from the body as ever). An httpx client on
aiohttp's pool (clients.pooled_http) spends about twice aiohttp's own CPU per request on merging
URLs, headers and cookies the query already has; RestSession answers that one call directly on the
aiohttp pool: the same request on the wire (the query builder's headers, the caller's JWT among
them), and an httpx.Response made from aiohttp's answer. It keeps no cookies (the pool's jar is a
dummy), so nothing one caller's answer sets rides along with another caller's request.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp.transport import map_aiohttp_exceptions
from yarl import URL

_DECODED = (b"content-encoding", b"content-length")  # aiohttp has decoded the body: no longer true of it


class RestSession:
    """What postgrest-py's query builders use of their httpx.AsyncClient (`request` and `auth`),
    on a shared aiohttp session (made inside the running event loop). Redirects are followed, as
    by the hub's httpx clients; an idempotent request meeting a keep-alive connection the server
    has just closed is retried once by aiohttp; network errors arrive as httpx's, so postgrest-py
    retries GETs and the hub translates errors as before."""

    auth: httpx.Auth | None = None  # postgrest-py's fallback when a request has no Authorization

    def __init__(self, session: aiohttp.ClientSession):
        self.session = session

    async def request(self, method: str, url: str, *, content: bytes | None = None,
                      params: httpx.QueryParams | None = None, headers: httpx.Headers | None = None,
                      auth: Any = None) -> httpx.Response:
        if auth is not None:  # the hub's callers send their JWT; basic auth is not this path's
            raise ValueError("RestSession sends the caller's own Authorization header; auth= is not supported")
        query = str(params) if params else ""
        target = f"{url}?{query}" if query else url
        sent = headers if headers is not None else httpx.Headers()
        with map_aiohttp_exceptions():
            async with self.session.request(method, URL(target, encoded=True), headers=sent.multi_items(),
                                            data=content) as answer:
                body = await answer.read()
        raw = answer.raw_headers
        if "Content-Encoding" in answer.headers:
            raw = tuple(pair for pair in raw if pair[0].lower() not in _DECODED)
        return _Answer(answer.status, raw, body, _Sent(method, target, sent, content or b""))


class _Sent(httpx.Request):
    """The request as it was sent, for the answer's `.request` (postgrest-py reads its headers):
    its URL is parsed only when read, and its body is the bytes sent."""

    def __init__(self, method: str, target: str, headers: httpx.Headers, content: bytes):
        # not httpx.Request.__init__: it would parse the URL and rebuild the headers for nothing
        self.method, self._target, self.headers, self.extensions = method, target, headers, {}
        self.stream = httpx.ByteStream(content)
        self._content = content

    @cached_property
    def url(self) -> httpx.URL:  # type: ignore[override]
        return httpx.URL(self._target)


class _Answer(httpx.Response):
    """aiohttp's answer as an httpx.Response, its body already read (and decoded by aiohttp)."""

    def __init__(self, status: int, headers: Any, body: bytes, request: httpx.Request):
        super().__init__(status, headers=headers, stream=httpx.ByteStream(body), request=request)
        self._content = body  # what read() would make of the stream, without re-chunking it
        self.is_stream_consumed = self.is_closed = True
