"""What every auth handler needs: the typed config, the pool, the rate limiter, the JSON body,
the caller's IP, allowed redirects, and one wrapper that turns errors into GoTrue's shape."""

from __future__ import annotations

import fnmatch
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import orjson
from starlette.requests import Request
from starlette.responses import Response

from localbase.auth import errors, passwords
from localbase.auth.config import AuthConfig
from localbase.auth.mail import MailError
from localbase.auth.ratelimit import RateLimiter
from localbase.database.pool import UNAVAILABLE

log = logging.getLogger("localbase.auth")


@dataclass
class AuthService:
    config: AuthConfig
    limiter: RateLimiter


def service(request: Request) -> AuthService:
    state = request.app.state
    svc = getattr(state, "auth_service", None)
    if svc is None:
        config = state.services.auth  # read and checked when the server started
        passwords.warm_up(config.bcrypt_cost)
        svc = state.auth_service = AuthService(config, RateLimiter(lambda: state.db.auth_pool))
    return svc


def pool(request: Request) -> asyncpg.Pool:
    return request.app.state.db.auth_pool


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def apikey_role(request: Request) -> str | None:
    return request.scope.get("state", {}).get("apikey_role")


async def body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise errors.BAD_JSON("Could not parse request body as JSON") from None
    if not isinstance(data, dict):
        raise errors.BAD_JSON()
    if b"\\u0000" in raw and _holds_nul(data):  # PostgreSQL's text cannot hold it: refused up front
        raise errors.VALIDATION_FAILED("Request body must not contain NUL characters (\\u0000)")
    return data


def _holds_nul(value: Any) -> bool:
    """Whether any string (key or value) of a parsed JSON document holds a NUL (iterative: JSON may
    nest deeper than Python's recursion limit)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _default(value: Any) -> Any:
    if isinstance(value, uuid.UUID):  # asyncpg's UUID subclass, which orjson does not take
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data, default=_default), status_code=status, media_type="application/json",
                    headers={errors.API_VERSION_HEADER: errors.API_VERSION, **(headers or {})})


def redirect_target(config: AuthConfig, requested: str | None) -> str:
    """GoTrue's rule: a redirect must be the site URL's origin or match an allowed URL pattern;
    anything else falls back to the site URL."""
    if not requested:
        return config.site_url
    site = urlsplit(config.site_url)
    target = urlsplit(requested)
    if (target.scheme, target.netloc) == (site.scheme, site.netloc):
        return requested
    for pattern in config.additional_redirect_urls:
        if fnmatch.fnmatchcase(requested, pattern) or requested.rstrip("/") == pattern.rstrip("/"):
            return requested
    return config.site_url


Handler = Callable[[Request], Awaitable[Response]]



def endpoint(fn: Handler) -> Handler:
    """Errors in GoTrue's shape; unexpected ones logged (without secrets) and answered 500."""

    @functools.wraps(fn)
    async def wrapper(request: Request) -> Response:
        try:
            return await fn(request)
        except errors.AuthError as exc:
            return errors.error_response(request, exc)
        except MailError:
            return errors.error_response(request, errors.UNEXPECTED_FAILURE("Error sending email"))
        except UNAVAILABLE as exc:  # the database is down or restarting: 503, which the clients retry (as REST's)
            log.warning("auth %s %s: database unavailable (%s)", request.method, request.url.path,
                        type(exc).__name__)
            return errors.error_response(request, errors.UNEXPECTED_FAILURE_UNAVAILABLE())
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            log.exception("auth %s %s failed: %s", request.method, request.url.path, type(exc).__name__)
            return errors.error_response(request, errors.UNEXPECTED_FAILURE("Database error"))
        except Exception as exc:  # a bug: logged with its traceback, answered 500 in GoTrue's shape
            log.exception("auth %s %s failed: %s", request.method, request.url.path, type(exc).__name__)
            return errors.error_response(request, errors.UNEXPECTED_FAILURE())

    return wrapper
