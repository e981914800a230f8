"""What Studio's pages work with, all from the API process it runs in:

- `api`: the API itself, called in-process (no socket) with the service_role key, so table rows go
  through REST's parse -> plan -> sql -> execute stages and users through the Auth admin endpoints,
  with their validation and errors - Studio has no second way of writing rows or users;
- `db`: the API's pools (REST's, for "run as"; Auth's, to mint a user's token) and schema cache;
- `owner`: a small pool as the database owner, for the catalog (row counts, policies) and the SQL
  editor's default "postgres" role, as the Supabase CLI's Studio runs SQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import orjson

from localbase.auth.config import AuthConfig
from localbase.settings import Settings

OWNER_POOL_SIZE = 3


@dataclass
class ApiError(Exception):
    """A non-2xx answer of the API, in its protocol's shape (PostgREST's or GoTrue's)."""

    status: int
    body: Any

    @property
    def message(self) -> str:
        b = self.body
        if isinstance(b, dict):
            parts = [str(b.get(k)) for k in ("message", "msg", "error_description", "error") if b.get(k)]
            extra = [f"{k}: {b[k]}" for k in ("details", "hint") if b.get(k)]
            code = b.get("code") or b.get("error_code")
            head = (parts[0] if parts else str(b))
            return " ".join([head, *(f"({e})" for e in extra)]) + (f" [{code}]" if code else "")
        return str(b)[:500]

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"


class Services:
    def __init__(self, settings: Settings, gateway) -> None:
        self.settings = settings
        self.gateway = gateway
        key = settings.service_role_key
        self.api = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=gateway, client=("127.0.0.1", 0)), base_url=settings.api_url,
            headers={"apikey": key, "authorization": f"Bearer {key}", "user-agent": "localbase-studio",
                     "x-client-info": "localbase-studio"}, timeout=60)
        self._owner: asyncpg.Pool | None = None

    @property
    def db(self):
        return self.gateway.state.db

    @property
    def schema(self):
        """REST's schema cache: what the API exposes."""
        return self.gateway.state.schema_cache.schema

    @property
    def owner(self) -> asyncpg.Pool:
        """The database owner's pool (open while Studio serves)."""
        if self._owner is None:
            raise RuntimeError("Studio's services are not open")
        return self._owner

    async def open(self) -> None:
        from localbase.database.pool import init_connection
        self._owner = await asyncpg.create_pool(
            self.db.admin_dsn, min_size=0, max_size=OWNER_POOL_SIZE, init=init_connection,
            timeout=self.settings.limits.db_connect_timeout,
            server_settings={"application_name": "localbase-studio"})

    async def close(self) -> None:
        await self.api.aclose()
        if self._owner is not None:
            await self._owner.close()

    # -- the API, in-process ------------------------------------------------------------------------
    async def call(self, method: str, path: str, *, params: Any = None, json: Any = None,
                   headers: dict[str, str] | None = None) -> Any:
        """Call the API; its JSON answer, or ApiError."""
        response = await self.api.request(method, path, params=params, headers=headers,
                                          content=orjson.dumps(json) if json is not None else None)
        body: Any = None
        if response.content:
            try:
                body = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                body = response.text
        if response.status_code >= 400:
            raise ApiError(response.status_code, body)
        return body

    async def rest(self, method: str, schema: str, table: str, *, params: Any = None, json: Any = None,
                   prefer: str | None = None) -> tuple[Any, str | None]:
        """A REST request on schema.table; (rows, Content-Range)."""
        profile = "accept-profile" if method in ("GET", "HEAD") else "content-profile"
        headers = {profile: schema, "content-type": "application/json"}
        if prefer:
            headers["prefer"] = prefer
        response = await self.api.request(method, "/rest/v1/" + quote(table, safe=""), params=params, headers=headers,
                                          content=orjson.dumps(json) if json is not None else None)
        body = orjson.loads(response.content) if response.content else None
        if response.status_code >= 400:
            raise ApiError(response.status_code, body)
        return body, response.headers.get("content-range")

    async def auth(self, method: str, path: str, *, params: Any = None, json: Any = None) -> Any:
        return await self.call(method, f"/auth/v1{path}", params=params, json=json,
                               headers={"content-type": "application/json"})

    @property
    def auth_config(self) -> AuthConfig:
        """The auth service's settings, as it loaded them (config, environment) at its first request."""
        from localbase.auth.context import AuthService
        svc: AuthService | None = getattr(self.gateway.state, "auth_service", None)
        if svc is None:
            raise RuntimeError("the auth service has not answered a request yet")
        return svc.config

    @property
    def storage_enabled(self) -> bool:
        return getattr(self.gateway.state, "storage", None) is not None

    async def storage(self, method: str, path: str, *, json: Any = None) -> Any:
        return await self.call(method, f"/storage/v1{path}", json=json, headers={"content-type": "application/json"})

    async def upload(self, bucket: str, key: str, chunks: Any, content_type: str) -> Any:
        """Store an object (replacing one of that name), its bytes streamed from `chunks`."""
        response = await self.api.post(f"/storage/v1/object/{quote(bucket, safe='')}/{quote(key)}", content=chunks,
                                       headers={"content-type": content_type or "application/octet-stream",
                                                "x-upsert": "true"})
        if response.status_code >= 400:
            raise ApiError(response.status_code, orjson.loads(response.content) if response.content else None)
        return orjson.loads(response.content)

    async def download(self, bucket: str, key: str) -> httpx.Response:
        """An object's bytes and headers (read whole: the in-process transport does not stream)."""
        response = await self.api.get(f"/storage/v1/object/{quote(bucket, safe='')}/{quote(key)}")
        if response.status_code >= 400:
            raise ApiError(response.status_code, orjson.loads(response.content) if response.content else None)
        return response
