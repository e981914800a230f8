"""Dependencies: settings, the pooled HTTP client, the caller's bearer token and the process's one
supabase client acting as the caller (clients.CallerClient). What does not depend on the request
(settings, the HTTP client, Accounts) is made once at start-up and read from the app's state; what
does (the caller's client, and the Tracker / Workspaces over it) is one dependency each, read
straight from the Authorization header (FastAPI solves every level of a dependency chain per
request). All are `async def`: FastAPI runs a plain `def` dependency in a worker thread."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Generic, TypeVar

import httpx
from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from efficiency_hub import catalogue
from efficiency_hub.accounts import Accounts
from efficiency_hub.catalogue import Catalogue
from efficiency_hub.clients import CallerClient
from efficiency_hub.errors import AuthenticationFailed
from efficiency_hub.settings import HubSettings
from efficiency_hub.tracker import Tracker
from efficiency_hub.workspaces import Workspaces

T = TypeVar("T")
SIGN_IN_FIRST = "sign in first: send Authorization: Bearer <access_token>"
BEARER = {"scheme_name": "HTTPBearer", "description": "the access token from /auth/login"}


def bearer_token(request: Request) -> str:
    """The caller's access token from `Authorization: Bearer <token>`; 401 without one."""
    scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed(SIGN_IN_FIRST)
    return token


class Caller(HTTPBearer, Generic[T]):
    """`make`(the process's supabase client acting as the caller), from the request's bearer token
    in one step; in the OpenAPI schema, the HTTP bearer security scheme it is. RLS, not this
    service, decides what the caller sees: only their headers are made per request."""

    def __init__(self, make: Callable[[CallerClient], T]):
        super().__init__(auto_error=False, **BEARER)
        self.make = make

    async def __call__(self, request: Request) -> T:  # type: ignore[override]
        state = request.app.state
        return self.make(CallerClient(state.supabase, bearer_token(request), state.rest))


class BearerToken(HTTPBearer):
    """The caller's bearer token itself (sign-out and profile hand it to Auth)."""

    def __init__(self) -> None:
        super().__init__(auto_error=False, **BEARER)

    async def __call__(self, request: Request) -> str:  # type: ignore[override]
        return bearer_token(request)


async def get_settings(request: Request) -> HubSettings:
    return request.app.state.settings


async def get_http(request: Request) -> httpx.AsyncClient:
    return request.app.state.http


async def get_accounts(request: Request) -> Accounts:
    return request.app.state.accounts  # made once at start-up: it holds only settings and the HTTP client


def _same(client: CallerClient) -> CallerClient:
    return client


Settings = Annotated[HubSettings, Depends(get_settings)]
Http = Annotated[httpx.AsyncClient, Depends(get_http)]
Token = Annotated[str, Depends(BearerToken())]
UserClient = Annotated[CallerClient, Depends(Caller(_same))]
AccountsDep = Annotated[Accounts, Depends(get_accounts)]
TrackerDep = Annotated[Tracker, Depends(Caller(Tracker))]
WorkspacesDep = Annotated[Workspaces, Depends(Caller(Workspaces))]


CATALOGUE_TTL_S = 60.0  # the catalogue changes by migration: read it once a minute, not per request


async def get_catalogue(request: Request, client: UserClient) -> Catalogue:
    """The event catalogue, read as the caller (any signed-in user may) and kept for a minute."""
    cached = getattr(request.app.state, "catalogue", None)
    now = time.monotonic()
    if cached is None or cached[0] < now:
        cached = request.app.state.catalogue = (now + CATALOGUE_TTL_S, await catalogue.load(client))
    return cached[1]


CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]
