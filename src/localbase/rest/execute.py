"""Execute stage: each request runs as the role named in the verified JWT.

The role, the JWT claims (for auth.uid() / auth.jwt()), the request's method, path and headers are
set first, then the statement runs; PostgreSQL's grants and RLS decide the rows.

- Writes (and reads that need one): one transaction, the context set transaction-locally
  (BEGIN; set context; statements; COMMIT).
- Reads: no transaction block. The context is set for the session, read-only by default, and
  each statement runs in its own implicit transaction: two round trips instead of four. Every use
  of a REST connection sets the whole context first (this module is the only way to one), so what
  a read leaves on the session is never seen by the next request. Needs a direct connection: behind
  a transaction pooler two statements may reach two sessions, so a pooler (detected when the
  connection is opened, see database/pool.py) keeps reads in transactions."""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

import asyncpg
import orjson

from localbase.database.gate import GateTimeout
from localbase.database.pool import UNAVAILABLE
from localbase.database.supervisor import database_down
from localbase.rest import errors
from localbase.rest.errors import RestError
from localbase.rest.sql import Statement, ident
from localbase.security import jwt
from localbase.security.signing_keys import KeyRing

log = logging.getLogger("localbase.rest")
T = TypeVar("T")

SET_CONTEXT = (
    "select 1 from (select set_config('role', $1, true), set_config('request.jwt.claims', $2, true), "
    "set_config('request.method', $3, true), set_config('request.path', $4, true), "
    "set_config('request.headers', $5, true), set_config('search_path', $6, true)"
)
SET_CONTEXT_WITH_TIMEOUT = SET_CONTEXT + ", set_config('statement_timeout', $7, true)) as _"
SET_CONTEXT += ") as _"
# the same for the session, with the statement timeout always (the role's, else the connection's
# own) and every transaction read-only until the next request sets its own context
SET_READ_SESSION = (
    "select 1 from (select set_config('role', $1, false), set_config('request.jwt.claims', $2, false), "
    "set_config('request.method', $3, false), set_config('request.path', $4, false), "
    "set_config('request.headers', $5, false), set_config('search_path', $6, false), "
    "set_config('statement_timeout', $7, false), set_config('default_transaction_read_only', 'on', false)) as _"
)
# (`select 1 from (...)`: set_config returns the value it set, and the claims and the request's
# headers are the largest of them: not sent back, nor decoded, on every request. The functions are
# volatile, so PostgreSQL evaluates them although no column of them is selected.)


@dataclass(frozen=True, slots=True)
class Caller:
    role: str
    claims_json: str
    authenticated: bool
    session: str | None = None  # the JWT's session_id, else its sub: whose writes a read must see


def caller_from(authorization: str | None, secret: str | KeyRing, anon_role: str = "anon") -> Caller:
    """The caller's role and claims from `Authorization: Bearer <jwt>`; no header means anon.
    Verified callers are cached per token; expiry is checked on every use all the same."""
    if not authorization:
        return Caller(anon_role, orjson.dumps({"role": anon_role}).decode(), False)
    cached = _callers.get((authorization, secret))
    if cached is not None:
        caller, exp = cached
        if exp is None or exp > time.time():
            return caller
        raise _jwt_error("JWT expired", errors.JWT_CLAIMS)
    caller, exp = _verify_caller(authorization, secret, anon_role)
    if len(_callers) >= _CALLER_CACHE_SIZE:
        _callers.pop(next(iter(_callers)))
    _callers[(authorization, secret)] = (caller, exp)
    return caller


_CALLER_CACHE_SIZE = 4096
_callers: dict[tuple[str, str | KeyRing], tuple[Caller, float | None]] = {}


def _verify_caller(authorization: str, secret: str | KeyRing, anon_role: str) -> tuple[Caller, float | None]:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _jwt_error("Invalid Authorization header: expected 'Bearer <token>'", errors.JWT_INVALID)
    try:
        claims = jwt.verify(token.strip(), secret)
    except jwt.JWTError as exc:
        raise _jwt_error(exc.reason, errors.JWT_CLAIMS if exc.expired or exc.claims else errors.JWT_INVALID) from None
    role = claims.get("role") or anon_role
    if not isinstance(role, str):
        raise _jwt_error("JWT role claim must be a string", errors.JWT_CLAIMS)
    exp = claims.get("exp")
    session = claims.get("session_id") or claims.get("sub")
    session = session if isinstance(session, str) else None
    caller = Caller(role, orjson.dumps(claims).decode(), role != anon_role, session)
    return caller, float(exp) if isinstance(exp, (int, float)) else None


def _jwt_error(reason: str, code: errors.Code) -> RestError:
    return code(headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{reason}"'},
                reason=reason)


@functools.lru_cache(maxsize=64)
def search_path(schema_name: str, extra: tuple[str, ...]) -> str:
    """The request's search_path, as PostgREST sets it: its schema, then the extra ones."""
    return ", ".join(ident(name) for name in (schema_name, *extra))


class Context(NamedTuple):
    """The request's context for PostgreSQL (set before its statements: see run). A named tuple:
    made for every request, at a third of a frozen dataclass's cost."""

    method: str
    path: str
    headers_json: str
    # as PostgREST sets it: the request's schema, then [api] extra_search_path (public, extensions)
    search_path: str = '"public", "public", "extensions"'
    pre_request: str | None = None  # PostgREST's db-pre-request: a function's quoted name, called first


async def run(db, caller: Caller, ctx: Context, statement: Statement, *,
              read_only: bool, rollback: bool = False, role_settings: dict[str, dict[str, str]] | None = None,
              check: Callable[[asyncpg.Record], None] | None = None) -> tuple[asyncpg.Record, int | None]:
    """Run the statement; returns its one row and, for count=planned|estimated, the planner's count.
    `check` may raise to roll the transaction back (e.g. single-object requests over several rows).
    A read goes through `read`."""
    if read_only:
        return await read(db, caller, ctx, statement, rollback=rollback, role_settings=role_settings, check=check)
    return await _in_transaction(db, caller, ctx, functools.partial(_row, statement=statement, check=check),
                                 read_only=False, rollback=rollback, role_settings=role_settings)


async def _row(conn: asyncpg.Connection, *, statement: Statement,
               check: Callable[[asyncpg.Record], None] | None) -> tuple[asyncpg.Record, int | None]:
    """run's work on its connection: the statement's one row and the planner's count (see run)."""
    planned = None
    if statement.explain_sql:
        planned = _plan_rows(await conn.fetchval(statement.explain_sql, *statement.explain_args))
    row = await conn.fetchrow(statement.sql, *statement.args)
    if check is not None:
        check(row)
    return row, planned


async def read(db, caller: Caller, ctx: Context, statement: Statement, *, rollback: bool = False,
               role_settings: dict[str, dict[str, str]] | None = None,
               check: Callable[[asyncpg.Record], None] | None = None) -> tuple[asyncpg.Record, int | None]:
    """run(..., read_only=True): where it may (session_reads), on a read session, without a
    transaction block: the context set for the session (see the module's docstring), the statement
    then its own read-only implicit transaction; else in a read-only transaction. Errors in
    PostgREST's shape, as _in_transaction maps them. (One coroutine, the work of _sent and _row
    inline: this is every read's path, and each coroutine between the request and asyncpg is
    resumed at every await.)"""
    if not session_reads(db, ctx):
        return await _in_transaction(db, caller, ctx, functools.partial(_row, statement=statement, check=check),
                                     read_only=True, rollback=rollback, role_settings=role_settings)
    timeout = (role_settings or {}).get(caller.role, {}).get("statement_timeout")
    if database_down():  # as _in_transaction
        raise _unavailable(None)
    try:
        async with db.rest_pool.acquire() as conn:
            try:
                await conn.fetchval(SET_READ_SESSION, caller.role, caller.claims_json, ctx.method, ctx.path,
                                    ctx.headers_json, ctx.search_path, timeout or db.rest_statement_timeout)
                try:
                    return await _row(conn, statement=statement, check=check)
                except asyncpg.InterfaceError as exc:
                    if _not_sent(conn, exc):
                        raise errors.INTERNAL() from None
                    raise
            except asyncpg.InternalClientError:
                conn.terminate()
                raise
    except Exception as exc:  # noqa: BLE001 - mapped as _in_transaction maps them, else raised as it was
        mapped = _mapped(exc, caller)
        if mapped is None:
            raise
        raise mapped from None


def _plan_rows(plan) -> int:
    """The planner's row count from EXPLAIN (FORMAT JSON)'s answer."""
    return int(orjson.loads(plan)[0]["Plan"]["Plan Rows"]) if isinstance(plan, str) \
        else int(plan[0]["Plan"]["Plan Rows"])


async def run_all(db, caller: Caller, ctx: Context, statement: Statement, *, read_only: bool,
                  role_settings: dict[str, dict[str, str]] | None = None) -> list[asyncpg.Record]:
    """Every row of the statement, in a transaction that is rolled back whatever it did (EXPLAIN plans)."""
    async def work(conn) -> list[asyncpg.Record]:
        return await conn.fetch(statement.sql, *statement.args)

    return await _in_transaction(db, caller, ctx, work, read_only=read_only, rollback=True,
                                 role_settings=role_settings)


@contextlib.asynccontextmanager
async def transaction(db, caller: Caller, ctx: Context, *, read_only: bool, rollback: bool = False,
                      timeout: str | None = None) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection inside one transaction as the caller: role, claims and request context
    set locally, so grants and RLS decide what every statement in it may touch. Commits when the
    block ends (rolls back with `rollback`, or when it raises). Errors are the caller's to map into
    its protocol's shape (REST: _in_transaction below; Storage: storage/session.py).
    BEGIN names its access mode: a read may have left the session read-only by default."""
    async with db.rest_pool.acquire() as conn:
        try:
            await conn.execute(BEGIN_READ_ONLY if read_only else BEGIN_READ_WRITE)
            try:
                # a read's session may have left its role's statement_timeout: always set this one's
                timeout = timeout or getattr(db, "rest_statement_timeout", None)
                if timeout is None:
                    await conn.fetchval(SET_CONTEXT, caller.role, caller.claims_json, ctx.method, ctx.path,
                                        ctx.headers_json, ctx.search_path)
                else:
                    await conn.fetchval(SET_CONTEXT_WITH_TIMEOUT, caller.role, caller.claims_json, ctx.method,
                                        ctx.path, ctx.headers_json, ctx.search_path, timeout)
                if ctx.pre_request is not None:
                    await conn.execute(f"select {ctx.pre_request}()")
                yield conn
            except BaseException:
                if not conn.is_closed():
                    await conn.execute("ROLLBACK")
                raise
            await conn.execute("ROLLBACK" if rollback else "COMMIT")
        except asyncpg.InternalClientError:
            conn.terminate()  # cut mid-protocol (the server died under it): never hand it out again
            raise


BEGIN_READ_ONLY = "BEGIN READ ONLY"
BEGIN_READ_WRITE = "BEGIN READ WRITE"


def session_reads(db, ctx: Context) -> bool:
    """Whether a read may run without a transaction block on `db`: a direct connection (no pooler),
    and no db-pre-request (it runs in the request's transaction, before the statement)."""
    return ctx.pre_request is None and getattr(db, "session_reads", False)


async def _in_transaction(db, caller: Caller, ctx: Context, work: Callable[[asyncpg.Connection], Awaitable[T]], *,
                          read_only: bool, rollback: bool, role_settings: dict[str, dict[str, str]] | None) -> T:
    """work(conn) as the caller in one transaction (`transaction`), errors in PostgREST's shape."""
    timeout = (role_settings or {}).get(caller.role, {}).get("statement_timeout")
    if database_down():  # the embedded PostgreSQL is being restarted: answer now, do not pile up
        raise _unavailable(None)
    try:
        async with transaction(db, caller, ctx, read_only=read_only, rollback=rollback, timeout=timeout) as conn:
            result = await _sent(conn, work)
        return result
    except Exception as exc:  # noqa: BLE001 - mapped below, else raised as it was
        mapped = _mapped(exc, caller)
        if mapped is None:
            raise
        raise mapped from None


def _mapped(exc: Exception, caller: Caller) -> RestError | None:
    """A database error in PostgREST's shape (None: not one of those, raise it as it is)."""
    if isinstance(exc, GateTimeout):
        return errors.POOL_TIMEOUT()
    if isinstance(exc, UNAVAILABLE):  # before PostgresError: shut down, crashed, starting up are 503, not a
        # query's error
        return _unavailable(exc)
    if isinstance(exc, asyncpg.PostgresError):
        return errors.from_postgres(exc, caller.authenticated)
    if isinstance(exc, (OSError, asyncpg.InterfaceError, asyncpg.InternalClientError, TimeoutError)):
        # InternalClientError: a connection cut mid-protocol (the server died under it)
        return _unavailable(exc)
    return None


async def _sent(conn: asyncpg.Connection, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    try:
        return await work(conn)
    except asyncpg.InterfaceError as exc:
        if _not_sent(conn, exc):
            raise errors.INTERNAL() from None
        raise


def _not_sent(conn: asyncpg.Connection, exc: asyncpg.InterfaceError) -> bool:
    """Whether the connection is fine but the statement could not be sent (its arguments do not fit
    it): a bug in this server, not an outage (a 503 would have clients retry it); logged."""
    if isinstance(exc, UNAVAILABLE) or conn.is_closed():
        return False
    log.error("statement refused by the driver: %s", exc)
    return True


_last_unavailable_log = 0.0


def _unavailable(exc: BaseException | None) -> RestError:
    """503 as PostgREST answers when it loses the database; logged at most once a second (an
    outage fails every request)."""
    global _last_unavailable_log
    now = time.monotonic()
    if now - _last_unavailable_log > 1.0:
        _last_unavailable_log = now
        log.warning("database unavailable: %s", exc if exc is not None else "PostgreSQL is restarting")
    return errors.CONNECTION()
