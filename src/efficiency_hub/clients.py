"""Supabase clients for the hub: as anonymous, as a signed-in user (their JWT, so RLS decides), or
as the service role (admin tasks and the monitor only)."""

from __future__ import annotations

from functools import cached_property
from http.cookiejar import DefaultCookiePolicy
from typing import Any, cast

import aiohttp
import httpx
from httpx import Headers
from httpx_aiohttp import AiohttpTransport
from postgrest import AsyncRequestBuilder, AsyncRPCFilterRequestBuilder
from storage3 import AsyncStorageClient
from supabase_functions import AsyncFunctionsClient

from efficiency_hub.settings import HubSettings
from supabase import AsyncClient, AsyncClientOptions, acreate_client


def pooled_http(*, connections: int = 64, timeout: float = 30.0) -> httpx.AsyncClient:
    """One process's pooled HTTP client for its supabase clients: httpx's API (what supabase-py
    speaks) on aiohttp's connection pool, whose C parser and pool cost about a third of the CPU of
    httpx's own (httpcore) per request. Idle connections are kept 4 s, under the 5 s a uvicorn
    server keeps them (Localbase, most proxies); a request that meets one the server has just
    closed is retried once by aiohttp when it is idempotent, as by httpx.
    It keeps no cookies (neither httpx's jar nor aiohttp's): its requests are many callers', and a
    cookie one answer sets must not ride along with another caller's request."""

    def session() -> aiohttp.ClientSession:  # made on first use, inside the running event loop
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections, keepalive_timeout=4.0),
                                     cookie_jar=aiohttp.DummyCookieJar())

    http = httpx.AsyncClient(transport=AiohttpTransport(client=session), timeout=httpx.Timeout(timeout),
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
    pooled HTTP connections carry the requests. The part of supabase-py's client the hub uses:
    table / from_, rpc, storage, functions."""

    def __init__(self, shared: AsyncClient, access_token: str):
        self.shared = shared
        self.authorization = f"Bearer {access_token}"
        self._rest_headers = Headers(shared.postgrest.headers)
        self._rest_headers["Authorization"] = self.authorization

    def table(self, table_name: str) -> AsyncRequestBuilder:
        builder = self.shared.postgrest.from_(table_name)
        builder.headers = self._rest_headers  # read, not changed, by the query it builds
        return builder

    from_ = table

    def rpc(self, fn: str, params: dict[Any, Any] | None = None, count: Any = None, head: bool = False,
            get: bool = False) -> AsyncRPCFilterRequestBuilder:
        builder = self.shared.postgrest.rpc(fn, params or {}, count, head, get)
        builder.request.headers["Authorization"] = self.authorization  # the call's own copy of the headers
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


# what the hub's domain classes (Tracker, Workspaces, Evidence) act through
Client = AsyncClient | CallerClient


def rows(data: object) -> list[dict[str, Any]]:
    """A REST answer's rows (supabase-py types `.data` as any JSON): what a table, a view or a
    set-returning function answers is a list of objects."""
    return cast("list[dict[str, Any]]", data or [])
