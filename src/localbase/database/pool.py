"""Connection pools: one per database role a service connects as.

- rest_pool as `authenticator` (NOINHERIT): each request switches to anon / authenticated /
  service_role first (rest/execute.py), so RLS decides what it sees. Its connections are not reset
  between requests (every use sets the whole context first); database/rest_pool.py hands them out.
- auth_pool as `supabase_auth_admin`, the owner of schema auth (as GoTrue connects). Like GoTrue's
  pool, its connections are not reset between requests (asyncpg still rolls back a transaction left
  open): auth's own statements set nothing for the session. A connection on which a project's
  function ran by name (a custom access token hook, auth/hooks.py) is marked with `ran_project_sql`
  and gets asyncpg's full reset (RESET ALL, UNLISTEN *, CLOSE ALL, advisory locks) when released.

An idle server keeps one REST connection open and no Auth one (each pool grows with demand and
shrinks after five idle minutes): every idle PostgreSQL backend is ~2 MB.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import asyncpg
import orjson

from localbase.database.gate import FairGate
from localbase.database.listener import Listener
from localbase.database.rest_pool import RestPool

# A database that is not there (refused, cut mid-request, shutting down, crashed, starting up or in
# recovery, or a connect timeout), as opposed to a query's own error: every service answers these
# with a retryable 503.
UNAVAILABLE = (OSError, TimeoutError, asyncpg.InternalClientError, asyncpg.ConnectionDoesNotExistError,
               asyncpg.AdminShutdownError, asyncpg.CrashShutdownError, asyncpg.CannotConnectNowError)

log = logging.getLogger("localbase.database")


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


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


def rest_pool(dsn: str, size: int, *, connect_timeout: float = 5.0, wait_timeout: float | None = None,
              application_name: str = "localbase-rest", min_size: int = 1) -> RestPool:
    """The REST pool (database/rest_pool.py), made and not yet opened (shared with the benchmarks'
    raw asyncpg baselines)."""
    return RestPool(dsn, size, min_size=min_size, connect_timeout=connect_timeout, wait_timeout=wait_timeout,
                    init=init_connection, server_settings={"application_name": application_name})


async def session_facts(conn: asyncpg.Connection) -> tuple[bool, str]:
    """(direct, statement_timeout) of a REST connection. Direct: the backend that answers is the
    one the connection opened with (a pooler in between hands out its own process ids), so what
    a request sets for the session stays with its statements. statement_timeout: the value a role
    without one of its own runs with."""
    pid, timeout = await conn.fetchrow("select pg_backend_pid(), current_setting('statement_timeout')")
    return pid == conn.get_server_pid(), timeout


AUTH_POOL_SIZE = 8  # Auth's connections (bcrypt runs outside them: a sign-in holds one for its statements only)


async def init_connection(conn: asyncpg.Connection) -> None:
    """json and jsonb decoded by orjson (every pool's connections)."""
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
    rest_pool: RestPool | None = field(default=None, init=False)
    auth_pool: asyncpg.Pool | None = field(default=None, init=False)
    # REST reads without a transaction block (rest/execute.py): only on a direct connection
    session_reads: bool = field(default=False, init=False)
    rest_statement_timeout: str = field(default="0", init=False)  # the REST role's own
    # the one connection that LISTENs for the services' channels (opened with the first channel)
    listener: Listener = field(init=False)

    def __post_init__(self) -> None:
        self.listener = Listener(self.admin_dsn)

    @property
    def rest_gate(self) -> FairGate | None:
        """The REST pool's fair gate (its waiters are a /metrics gauge)."""
        return self.rest_pool.gate if self.rest_pool is not None else None

    async def open(self) -> None:
        self.rest_pool = await rest_pool(self.rest_dsn, self.rest_pool_size, connect_timeout=self.connect_timeout,
                                         wait_timeout=self.pool_timeout).open()
        async with self.rest_pool.acquire() as conn:
            self.session_reads, self.rest_statement_timeout = await session_facts(conn)
        self.auth_pool = await asyncpg.create_pool(
            self.auth_dsn, min_size=0, max_size=AUTH_POOL_SIZE, init=init_connection, reset=_reset_after_project_sql,
            timeout=self.connect_timeout,
            server_settings={"application_name": "localbase-auth"})

    async def close(self) -> None:
        await self.listener.stop()
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
            async with asyncio.timeout(2), self.rest_pool.acquire() as conn:
                await conn.fetchval("select 1")
            return True
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            return False
