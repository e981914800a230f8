"""Runner: call a function's handler with the caller's request (its JWT passes through untouched),
turn what it returns into a response, and answer errors as the Functions relay does."""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from localbase.functions.loader import LoadedFunction

log = logging.getLogger("localbase.functions")
TIMEOUT_S = 150.0  # as Supabase's wall-clock limit for a request
# What a caller is told when a function fails, as Supabase's relay words it: never the error
# itself (its message may hold a database URL, a key, a row); the detail goes to the (redacted) log.
WORKER_ERROR = "Function exited due to an error (please check logs)"
BOOT_ERROR = "Function failed to start (please check logs)"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def error_response(status: int, code: str, message: str, *, relay: bool = False) -> Response:
    """Errors raised by Localbase itself (not returned by the function): Supabase's `code` and
    `message`, plus `error`, which is what the clients show (FunctionsHttpError's message)."""
    return json_response({"code": code, "message": message, "error": message}, status,
                         {"x-relay-error": "true"} if relay else None)


def _to_response(result: Any) -> Response:
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(status_code=204)
    if isinstance(result, (dict, list, int, float, bool)):
        return json_response(result)
    if isinstance(result, str):
        return PlainTextResponse(result)
    if isinstance(result, bytes):
        return Response(result, media_type="application/octet-stream")
    raise TypeError(f"a handler returned {type(result).__name__}; return a Response, dict, list, str or None")


async def invoke(fn: LoadedFunction, request: Request, timeout: float = TIMEOUT_S) -> Response:
    """`timeout`: [edge_runtime] request_timeout_seconds in supabase/localbase.toml."""
    try:
        if inspect.iscoroutinefunction(fn.handler):
            result = await asyncio.wait_for(fn.handler(request), timeout)
        else:
            # plain handlers run in a thread, so they may use the sync supabase client against
            # this very server without blocking its event loop
            result = await asyncio.wait_for(run_in_threadpool(fn.handler, request), timeout)
        return _to_response(result)
    except TimeoutError:
        log.error("function %s timed out after %.0fs", fn.name, timeout)
        return error_response(546, "WORKER_LIMIT", f"Function {fn.name} timed out after {timeout:.0f}s",
                              relay=True)
    except Exception:  # the function's own bug: logged with its traceback, answered as 500
        log.exception("function %s failed", fn.name)
        return error_response(500, "WORKER_ERROR", WORKER_ERROR)
