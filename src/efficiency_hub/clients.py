"""Supabase clients for the hub: as anonymous, as a signed-in user (their JWT, so RLS decides), or
as the service role (admin tasks and the monitor only)."""

from __future__ import annotations

import httpx

from efficiency_hub.settings import HubSettings
from supabase import AsyncClient, AsyncClientOptions, acreate_client


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
