"""Who is asking, and the one way storage talks to PostgreSQL: a transaction as that caller.

The transaction is REST's execute stage (role, JWT claims and request set locally, then the
statements), so storage.objects and storage.buckets are filtered by their RLS policies exactly as
a table read through /rest/v1 would be. Work the Storage API does on its own authority (public
objects, signed URLs, the sweep) runs as service_role, the role Supabase's server key carries."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import orjson
from starlette.requests import Request

from localbase.database.gate import GateTimeout
from localbase.database.pool import UNAVAILABLE
from localbase.database.supervisor import database_down
from localbase.rest import execute, request_headers
from localbase.rest.errors import RestError
from localbase.storage import errors

SERVICE = execute.Caller("service_role", '{"role":"service_role"}', True)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


@dataclass(frozen=True)
class Session:
    """The caller of one request: the verified role and claims, and the request's context."""

    caller: execute.Caller
    ctx: execute.Context
    timeout: str | None = None

    @property
    def owner_id(self) -> str | None:
        """The JWT's `sub` (what auth.uid() reads), recorded as the owner of what the caller writes."""
        sub = orjson.loads(self.caller.claims_json).get("sub")
        return sub if isinstance(sub, str) and sub else None

    def as_service(self) -> Session:
        return Session(SERVICE, self.ctx, None)


def owner_uuid(owner_id: str | None) -> str | None:
    """`owner` (uuid, deprecated) is set when the owner id is a uuid; `owner_id` always."""
    return owner_id if owner_id and _UUID.match(owner_id) else None


def session_for(request: Request, *, anonymous: bool = False) -> Session:
    """The caller from `Authorization: Bearer` (or the `apikey` header alone); a bad or expired JWT
    is refused with Storage's 403. `anonymous`: routes whose authority is a token or the bucket
    being public do not look at the caller."""
    settings = request.app.state.settings
    headers = request.headers
    # the request.headers setting as REST writes it (rest/request_headers.py)
    ctx = execute.Context(request.method, request.url.path, request_headers.decoded(request.scope["headers"])[1])
    if anonymous:
        return Session(execute.Caller("anon", '{"role":"anon"}', False), ctx)
    authorization = headers.get("authorization")
    if not authorization and headers.get("apikey"):
        authorization = f"Bearer {headers['apikey']}"
    try:
        caller = execute.caller_from(authorization, settings.keyring)
    except RestError as exc:
        raise errors.access_denied(exc.message) from None
    role_settings = request.app.state.schema_cache.schema.role_settings
    return Session(caller, ctx, (role_settings or {}).get(caller.role, {}).get("statement_timeout"))


@contextlib.asynccontextmanager
async def transaction(db, session: Session, *, read_only: bool = False,
                      rollback: bool = False) -> AsyncIterator[asyncpg.Connection]:
    """REST's transaction as the session's caller, with database errors in Storage's shape."""
    if database_down():
        raise errors.unavailable()
    try:
        async with execute.transaction(db, session.caller, session.ctx, read_only=read_only, rollback=rollback,
                                       timeout=session.timeout) as conn:
            yield conn
    except errors.StorageError:
        raise
    except GateTimeout:
        raise errors.timed_out() from None
    except UNAVAILABLE:  # before PostgresError: a database shutting down or restarting is retryable
        raise errors.unavailable() from None
    except asyncpg.PostgresError as exc:
        raise map_postgres(exc) from None
    except (asyncpg.InterfaceError, asyncpg.InternalClientError):
        raise errors.unavailable() from None


def map_postgres(exc: asyncpg.PostgresError) -> errors.StorageError:
    if getattr(exc, "sqlstate", "") == "23503" and getattr(exc, "constraint_name", "") == "objects_bucket_id_fkey":
        if "is still referenced" in (getattr(exc, "detail", "") or ""):
            return errors.bucket_not_empty()
        return errors.no_such_bucket()
    return errors.from_postgres(exc)


ALLOW_DELETE = "select set_config('storage.allow_delete_query', 'true', true)"
