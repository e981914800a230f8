"""The API gateway's key check, as Supabase's gateway does it: every request names one of the
project's API keys in the `apikey` header (or `?apikey=`); the public paths each service declares
(`PUBLIC_PATHS` beside its routes, gathered by gateway/app.py) need none. Which
keys, and the `Authorization` the services then get: security.api_keys.

Plain functions on the server's own scope (no middleware of its own) so it costs next to nothing
per request."""

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


class KeyCheck:
    """The gateway's stage (gateway/stack.py calls it for every HTTP request and socket): which
    requests need a key, and the verdict on theirs."""

    def __init__(self, settings: Settings, public: tuple[str, ...]):
        self.keys = ApiKeys(settings)
        self.public = public  # path prefixes

    def refusal(self, scope) -> tuple[str, str] | None:
        """None when the request may pass (a preflight, a public path, or an accepted key: its role
        then in the scope's state as `apikey_role`), else the (message, hint) to `reject` it with."""
        if scope.get("method") == "OPTIONS" or scope["path"].startswith(self.public):
            return None
        verdict = self.keys.check(scope)
        if isinstance(verdict, tuple):
            return verdict
        scope.setdefault("state", {})["apikey_role"] = verdict
        return None


def refused(message: str, hint: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """An HTTP request's refusal: (status, headers, body), Supabase's gateway's 401."""
    body = orjson.dumps({"message": message, "hint": hint})
    return 401, [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())], body


async def close_socket(send, message: str) -> None:
    """A socket's refusal: closed with 4001 before it is accepted."""
    await send({"type": "websocket.close", "code": 4001, "reason": message})
