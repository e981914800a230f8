"""The API gateway's key check, as Supabase's gateway does it: every request names one of the
project's API keys in the `apikey` header (or `?apikey=`); the public paths each service declares
(`PUBLIC_PATHS` beside its routes, gathered by gateway/app.py) need none. Which
keys, and the `Authorization` the services then get: security.api_keys.

Pure ASGI (no BaseHTTPMiddleware) so it costs next to nothing per request."""

from __future__ import annotations

from urllib.parse import parse_qsl

import orjson

from localbase.security.api_keys import ApiKeys as KeyTable
from localbase.settings import Settings


class ApiKeys:
    """The project's keys, and the check every request passes."""

    def __init__(self, settings: Settings):
        self.table = KeyTable.from_settings(settings)

    def check(self, scope) -> str | tuple[str, str]:
        """The key's role, or the (message, hint) to refuse the request with. For an accepted key
        the scope gets the `Authorization` the services must see (an opaque key's JWT) and, in
        its state, the role and the JWT standing for the key (`apikey_token`, for sockets)."""
        key = authorization = None
        for name, value in scope["headers"]:
            if name == b"apikey":
                key = value
            elif name == b"authorization":
                authorization = value
        if key is None and scope.get("query_string"):
            for name, value in parse_qsl(scope["query_string"].decode("latin-1")):
                if name == "apikey":
                    key = value.encode()
                    break
        if key is None:
            return ("No API key found in request", "No `apikey` request header or url param was found.")
        found = self.table.resolve(key)
        if found is None:
            return ("Invalid API key", "Double check your Supabase `anon` or `service_role` API key.")
        role, token = found
        if self.table.needs_bearer(key, authorization):
            scope["headers"] = self.table.with_bearer(scope["headers"], token)
        scope.setdefault("state", {})["apikey_token"] = token
        return role


class ApiKeyMiddleware:
    def __init__(self, app, settings: Settings, public: tuple[str, ...]):
        self.app = app
        self.keys = ApiKeys(settings)
        self.public = public  # path prefixes

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        path = scope["path"]
        if scope.get("method") == "OPTIONS" or path.startswith(self.public):
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
