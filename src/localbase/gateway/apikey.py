"""The API gateway's key check, as Supabase's gateway does it: every request names the project's
anon or service_role key in the `apikey` header (or `?apikey=`); a few public paths need none.

Pure ASGI (no BaseHTTPMiddleware) so it costs next to nothing per request."""

from __future__ import annotations

import hmac
from urllib.parse import parse_qsl

import orjson

from localbase.settings import Settings

PUBLIC_PREFIXES = (
    "/health",
    "/metrics",
    "/auth/v1/verify",
    "/auth/v1/callback",
    "/auth/v1/authorize",
    "/auth/v1/health",
    "/auth/v1/.well-known/",
    "/functions/v1/",  # functions verify the caller's JWT themselves
)


class ApiKeys:
    """The project's two keys, and the check every request passes."""

    def __init__(self, settings: Settings):
        self.keys = {
            settings.anon_key.encode(): "anon",
            settings.service_role_key.encode(): "service_role",
        }

    def _role_for(self, key: bytes) -> str | None:
        found = None
        for known, role in self.keys.items():  # constant time per candidate, every candidate tried
            if hmac.compare_digest(known, key):
                found = role
        return found

    def check(self, scope) -> str | tuple[str, str]:
        """The key's role, or the (message, hint) to refuse the request with."""
        key = None
        for name, value in scope["headers"]:
            if name == b"apikey":
                key = value
                break
        if key is None and scope.get("query_string"):
            for name, value in parse_qsl(scope["query_string"].decode("latin-1")):
                if name == "apikey":
                    key = value.encode()
                    break
        if key is None:
            return ("No API key found in request", "No `apikey` request header or url param was found.")
        role = self._role_for(key)
        if role is None:
            return ("Invalid API key", "Double check your Supabase `anon` or `service_role` API key.")
        return role


class ApiKeyMiddleware:
    def __init__(self, app, settings: Settings):
        self.app = app
        self.keys = ApiKeys(settings)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        path: str = scope["path"]
        if scope.get("method") == "OPTIONS" or path.startswith(PUBLIC_PREFIXES):
            return await self.app(scope, receive, send)
        verdict = self.keys.check(scope)
        if isinstance(verdict, tuple):
            return await reject(scope, send, *verdict)
        scope.setdefault("state", {})["apikey_role"] = verdict
        return await self.app(scope, receive, send)


async def reject(scope, send, message: str, hint: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 4001, "reason": message})
        return
    body = orjson.dumps({"message": message, "hint": hint})
    await send({"type": "http.response.start", "status": 401,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
