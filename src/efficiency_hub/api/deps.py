"""Dependencies: settings, the pooled HTTP client, the caller's bearer token and the process's one
supabase client acting as the caller (clients.CallerClient). All are `async def`: FastAPI runs a
plain `def` dependency in a worker thread, which cost a third of the API's CPU under load."""

from __future__ import annotations

import time
from typing import Annotated

import httpx
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from efficiency_hub import catalogue
from efficiency_hub.accounts import Accounts
from efficiency_hub.catalogue import Catalogue
from efficiency_hub.clients import CallerClient
from efficiency_hub.errors import AuthenticationFailed
from efficiency_hub.settings import HubSettings
from efficiency_hub.tracker import Tracker
from efficiency_hub.workspaces import Workspaces

_bearer = HTTPBearer(auto_error=False, description="the access token from /auth/login")


async def get_settings(request: Request) -> HubSettings:
    return request.app.state.settings


async def get_http(request: Request) -> httpx.AsyncClient:
    return request.app.state.http


async def access_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise AuthenticationFailed("sign in first: send Authorization: Bearer <access_token>")
    return credentials.credentials


Settings = Annotated[HubSettings, Depends(get_settings)]
Http = Annotated[httpx.AsyncClient, Depends(get_http)]
Token = Annotated[str, Depends(access_token)]


async def get_accounts(settings: Settings, http: Http) -> Accounts:
    return Accounts(settings, http)


async def get_user_client(request: Request, token: Token) -> CallerClient:
    """The process's supabase client acting as the caller (their JWT): RLS, not this service,
    decides what they see. Nothing is constructed per request but the caller's headers."""
    return CallerClient(request.app.state.supabase, token, request.app.state.rest)


UserClient = Annotated[CallerClient, Depends(get_user_client)]
AccountsDep = Annotated[Accounts, Depends(get_accounts)]


async def get_tracker(client: UserClient) -> Tracker:
    return Tracker(client)


async def get_workspaces(client: UserClient) -> Workspaces:
    return Workspaces(client)


TrackerDep = Annotated[Tracker, Depends(get_tracker)]
WorkspacesDep = Annotated[Workspaces, Depends(get_workspaces)]


CATALOGUE_TTL_S = 60.0  # the catalogue changes by migration: read it once a minute, not per request


async def get_catalogue(request: Request, client: UserClient) -> Catalogue:
    """The event catalogue, read as the caller (any signed-in user may) and kept for a minute."""
    cached = getattr(request.app.state, "catalogue", None)
    now = time.monotonic()
    if cached is None or cached[0] < now:
        cached = request.app.state.catalogue = (now + CATALOGUE_TTL_S, await catalogue.load(client))
    return cached[1]


CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]
