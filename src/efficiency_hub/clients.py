"""Supabase clients for the hub: as anonymous, as a signed-in user (their JWT, so RLS decides), or
as the service role (admin tasks and the monitor only)."""

from __future__ import annotations

from functools import cached_property, lru_cache
from http.cookiejar import DefaultCookiePolicy
from typing import Any, cast

import aiohttp
import httpx
from httpx import Headers
from httpx_aiohttp import AiohttpTransport
from postgrest import AsyncRequestBuilder, AsyncRPCFilterRequestBuilder
from storage3 import AsyncStorageClient
from supabase_functions import AsyncFunctionsClient
from yarl import URL

from efficiency_hub.rest_session import RestSession
from efficiency_hub.settings import HubSettings
from supabase import AsyncClient, AsyncClientOptions, acreate_client


def aiohttp_pool(*, connections: int = 64, timeout: float = 30.0) -> aiohttp.ClientSession:
    """One process's aiohttp connection pool (call it inside the running event loop). Idle
    connections are kept 4 s, under the 5 s a uvicorn server keeps them (Localbase, most proxies); a
    request that meets one the server has just closed is retried once by aiohttp when it is
    idempotent, as by httpx. It keeps no cookies (a dummy jar): its requests are many callers'."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections, keepalive_timeout=4.0),
                                 cookie_jar=aiohttp.DummyCookieJar(),
                                 timeout=aiohttp.ClientTimeout(sock_connect=timeout, sock_read=timeout,
                                                               connect=timeout))


def pooled_http(*, connections: int = 64, timeout: float = 30.0,
                pool: aiohttp.ClientSession | None = None) -> httpx.AsyncClient:
    """One process's pooled HTTP client for its supabase clients: httpx's API (what supabase-py
    speaks) on aiohttp's connection pool (`pool`, else one made on first use by aiohttp_pool),
    whose C parser and pool cost about a third of the CPU of httpx's own (httpcore) per request.
    It keeps no cookies (neither httpx's jar nor aiohttp's): its requests are many callers', and a
    cookie one answer sets must not ride along with another caller's request."""

    def session() -> aiohttp.ClientSession:  # made on first use, inside the running event loop
        return aiohttp_pool(connections=connections, timeout=timeout)

    http = httpx.AsyncClient(transport=AiohttpTransport(client=pool or session), timeout=httpx.Timeout(timeout),
                             follow_redirects=True)
    http.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return http


def _options(token: str | None, http: httpx.AsyncClient | None) -> AsyncClientOptions:
    # Headers travel with each request, so one pooled `http` client can serve many callers.
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return AsyncClientOptions(headers=headers, auto_refresh_token=False, persist_session=False,
                              httpx_client=http)


async def anon_client(settings: HubSettings, http: httpx.AsyncClient | None = None) -> AsyncClient:
    return await acreate_client(settings.supabase_url, settings.anon_key, options=_options(None, http))


async def user_client(settings: HubSettings, access_token: str,
                      http: httpx.AsyncClient | None = None) -> AsyncClient:
    """A client that acts as the user holding `access_token` in REST, Functions and Realtime."""
    client = await acreate_client(settings.supabase_url, settings.anon_key,
                                  options=_options(access_token, http))
    await client.realtime.set_auth(access_token)
    return client


async def service_client(settings: HubSettings, http: httpx.AsyncClient | None = None) -> AsyncClient:
    key = settings.require_service_role()
    return await acreate_client(settings.supabase_url, key, options=_options(None, http))


class CallerClient:
    """The process's one shared supabase client, acting as one caller: every request it builds
    carries the caller's JWT instead of the key's, so RLS decides what they see. Per request only
    the caller's headers are made (no client, no auth or realtime client); the shared client's
    pooled HTTP connections carry the requests, or, given `rest` (rest_session.RestSession on the
    same pool), its query builders' requests go straight on that pool. The part of supabase-py's
    client the hub uses: table / from_, rpc, storage, functions."""

    def __init__(self, shared: AsyncClient, access_token: str, rest: RestSession | None = None):
        self.shared = shared
        self.authorization = f"Bearer {access_token}"
        self._rest_headers = Headers(shared.postgrest.headers)
        self._rest_headers["Authorization"] = self.authorization
        # what postgrest-py's builders send with: typed as their httpx client, of which they use `request`
        self._session = cast("httpx.AsyncClient", rest) if rest is not None else shared.postgrest.session

    def table(self, table_name: str) -> AsyncRequestBuilder:
        postgrest = self.shared.postgrest
        # the builder reads, and does not change, the caller's headers for the query it builds
        return AsyncRequestBuilder(self._session, _table_url(postgrest.base_url, table_name), self._rest_headers,
                                   postgrest.basic_auth, retry_enabled=postgrest.retry_enabled)

    from_ = table

    def rpc(self, fn: str, params: dict[Any, Any] | None = None, count: Any = None, head: bool = False,
            get: bool = False) -> AsyncRPCFilterRequestBuilder:
        builder = self.shared.postgrest.rpc(fn, params or {}, count, head, get)
        builder.request.headers["Authorization"] = self.authorization  # the call's own copy of the headers
        builder.request.session = self._session
        return builder

    @cached_property
    def _headers(self) -> dict[str, str]:
        return {**self.shared.options.headers, "Authorization": self.authorization}

    @cached_property
    def storage(self) -> AsyncStorageClient:
        return AsyncStorageClient(str(self.shared.storage_url), self._headers,
                                  http_client=self.shared.options.httpx_client)

    @cached_property
    def functions(self) -> AsyncFunctionsClient:
        return AsyncFunctionsClient(str(self.shared.functions_url), self._headers,
                                    http_client=self.shared.options.httpx_client)


@lru_cache(maxsize=512)
def _table_url(base: URL, table_name: str) -> URL:
    return base.joinpath(table_name)  # what postgrest-py's from_() builds per query


# what the hub's domain classes (Tracker, Workspaces, Evidence) act through
Client = AsyncClient | CallerClient


def rows(data: object) -> list[dict[str, Any]]:
    """A REST answer's rows (supabase-py types `.data` as any JSON): what a table, a view or a
    set-returning function answers is a list of objects."""
    return cast("list[dict[str, Any]]", data or [])
