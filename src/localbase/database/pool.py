"""Connection pools: one per database role a service connects as.

- rest_pool as `authenticator` (NOINHERIT): each request switches to anon / authenticated /
  service_role inside its own transaction, so RLS decides what it sees.
- auth_pool as `supabase_auth_admin`, the owner of schema auth (as GoTrue connects). Like GoTrue's
  pool, its connections are not reset between requests (asyncpg still rolls back a transaction left
  open): auth's own statements set nothing for the session. A connection on which a project's
  function ran by name (a custom access token hook, auth/hooks.py) is marked with `ran_project_sql`
  and gets asyncpg's full reset (RESET ALL, UNLISTEN *, CLOSE ALL, advisory locks) when released.

An idle server keeps one REST connection open and no Auth one (each pool grows with demand and
shrinks after asyncpg's max_inactive_connection_lifetime): every idle PostgreSQL backend is ~2 MB.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import asyncpg
import orjson

from localbase.database.gate import FairGate

# A database that is not there (refused, cut mid-request, shutting down, crashed, starting up or in
# recovery, or a connect timeout), as opposed to a query's own error: every service answers these
# with a retryable 503.
UNAVAILABLE = (OSError, TimeoutError, asyncpg.InternalClientError, asyncpg.ConnectionDoesNotExistError,
               asyncpg.AdminShutdownError, asyncpg.CrashShutdownError, asyncpg.CannotConnectNowError)

log = logging.getLogger("localbase.database")


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Like PostgREST, REST connections are not reset between requests: everything a request sets
    (role, claims, timeouts) is transaction-local and gone at COMMIT/ROLLBACK. This saves a
    `RESET ALL; UNLISTEN *; ...` round trip per request."""


_PROJECT_SQL_RAN: set[int] = set()  # server pids of auth connections to reset fully when released


def ran_project_sql(conn: asyncpg.Connection) -> None:
    """A project's function ran on this auth connection: it may have left session state (a SET, a
    LISTEN, an advisory lock), so the pool resets the connection fully when it is released."""
    _PROJECT_SQL_RAN.add(conn.get_server_pid())


async def _reset_after_project_sql(conn: asyncpg.Connection) -> None:
    """The auth pool's reset: none (a round trip saved per request), except after `ran_project_sql`."""
    if _PROJECT_SQL_RAN:
        pid = conn.get_server_pid()
        if pid in _PROJECT_SQL_RAN:
            _PROJECT_SQL_RAN.discard(pid)
            await conn.execute(conn.get_reset_query())


def rest_pool_options(size: int, connect_timeout: float = 5.0) -> dict:
    """The REST pool's settings (shared with benchmarks/rest.py's baseline)."""
    return {"min_size": 1, "max_size": size, "init": _init_connection, "reset": _no_reset,
            "timeout": connect_timeout, "server_settings": {"application_name": "localbase-rest"}}


async def session_facts(conn: asyncpg.Connection) -> tuple[bool, str]:
    """(direct, statement_timeout) of a REST connection. Direct: the backend that answers is the
    one the connection opened with (a pooler in between hands out its own process ids), so what
    a request sets for the session stays with its statements. statement_timeout: the value a role
    without one of its own runs with."""
    pid, timeout = await conn.fetchrow("select pg_backend_pid(), current_setting('statement_timeout')")
    return pid == conn.get_server_pid(), timeout


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(typename, encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")


@dataclass
class Database:
    rest_dsn: str
    auth_dsn: str
    admin_dsn: str
    rest_pool_size: int = 20
    connect_timeout: float = 5.0  # a new connection (the database down or hung answers 503, not a hang)
    pool_timeout: float = 10.0  # a request waiting for a free REST connection (504 after that)
    rest_pool: asyncpg.Pool | None = field(default=None, init=False)
    rest_gate: FairGate | None = field(default=None, init=False)
    auth_pool: asyncpg.Pool | None = field(default=None, init=False)
    # REST reads without a transaction block (rest/execute.py): only on a direct connection
    session_reads: bool = field(default=False, init=False)
    rest_statement_timeout: str = field(default="0", init=False)  # the REST role's own

    async def open(self) -> None:
        self.rest_pool = await asyncpg.create_pool(
            self.rest_dsn, **rest_pool_options(self.rest_pool_size, self.connect_timeout))
        self.rest_gate = FairGate(self.rest_pool_size, timeout=self.pool_timeout)
        async with self.rest_pool.acquire() as conn:
            self.session_reads, self.rest_statement_timeout = await session_facts(conn)
        self.auth_pool = await asyncpg.create_pool(
            self.auth_dsn, min_size=0, max_size=8, init=_init_connection, reset=_reset_after_project_sql,
            timeout=self.connect_timeout,
            server_settings={"application_name": "localbase-auth"})

    async def close(self) -> None:
        for pool in (self.rest_pool, self.auth_pool):
            if pool is not None:
                await pool.close()
        self.rest_pool = self.auth_pool = None

    async def admin_connection(self) -> asyncpg.Connection:
        """A fresh superuser connection, for migrations and schema introspection only."""
        return await asyncpg.connect(self.admin_dsn, server_settings={"application_name": "localbase-admin"})

    async def healthy(self) -> bool:
        if self.rest_pool is None:
            return False
        try:
            async with self.rest_pool.acquire(timeout=2) as conn:
                await conn.fetchval("select 1", timeout=2)
            return True
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            return False
