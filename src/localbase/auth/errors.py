"""GoTrue's error shape: `{"code": <status>, "error_code": "<code>", "msg": "..."}`.

Clients that send `X-Supabase-Api-Version: 2024-01-01` (supabase-py, supabase-js) get that
version's shape, where `code` is the error code string; `error_code` and `msg` are kept in both,
so either way the client maps the error code to the right exception class."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

API_VERSION_HEADER = "x-supabase-api-version"
API_VERSION = "2024-01-01"


class AuthError(Exception):
    def __init__(self, status: int, error_code: str, msg: str, extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(msg)
        self.status = status
        self.error_code = error_code
        self.msg = msg
        self.extra = extra or {}
        self.headers = headers or {}


def bad_request(code: str, msg: str) -> AuthError:
    return AuthError(400, code, msg)


def unprocessable(code: str, msg: str, extra: dict[str, Any] | None = None) -> AuthError:
    return AuthError(422, code, msg, extra)


def validation(msg: str) -> AuthError:
    return AuthError(400, "validation_failed", msg)


def unauthorized(code: str, msg: str) -> AuthError:
    return AuthError(401, code, msg)


def forbidden(code: str, msg: str) -> AuthError:
    return AuthError(403, code, msg)


def not_found(code: str, msg: str) -> AuthError:
    return AuthError(404, code, msg)


def rate_limited(code: str = "over_request_rate_limit", msg: str = "Request rate limit reached",
                 retry_after: int | None = None) -> AuthError:
    headers = {"retry-after": str(retry_after)} if retry_after else None
    return AuthError(429, code, msg, headers=headers)


def versioned(request: Request) -> bool:
    return request.headers.get(API_VERSION_HEADER, "") >= API_VERSION


def error_response(request: Request, error: AuthError) -> Response:
    if versioned(request):
        body: dict[str, Any] = {"code": error.error_code, "error_code": error.error_code, "msg": error.msg}
    else:
        body = {"code": error.status, "error_code": error.error_code, "msg": error.msg}
    body.update(error.extra)
    headers = {API_VERSION_HEADER: API_VERSION, **error.headers}
    return Response(orjson.dumps(body), status_code=error.status, media_type="application/json",
                    headers=headers)
