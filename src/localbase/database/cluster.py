"""Which PostgreSQL Localbase runs on (the embedded one, or any URL), and getting it ready:
start it, apply the bootstrap SQL, the project's migrations and, on a new database, the seed."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import asyncpg

from localbase.database import bootstrap, credentials, migrations, provision
from localbase.database.embedded import SUPERUSER, EmbeddedPostgres
from localbase.database.pool import Database
from localbase.settings import Settings

log = logging.getLogger("localbase.database")
LOGIN_ROLES = ("authenticator", "supabase_auth_admin", "supabase_realtime_admin", "supabase_functions_admin")
ROLE_PASSWORDS_FILE = "role_passwords.json"


class DatabaseUnreachable(ConnectionError):
    """The external database (DATABASE_URL / --db-url) refused or did not answer the connection."""


@dataclass
class PrepareReport:
    fresh: bool
    applied: list[migrations.Migration]
    seeded: bool


class Cluster:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.embedded = None if settings.db_url else EmbeddedPostgres(
            settings.data_dir, settings.db_port, password_source=lambda: superuser_password(settings))
        self.fresh = False
        self.new: provision.NewCluster | None = None  # how launch() made a new data folder's cluster

    # -- addresses -----------------------------------------------------------------------------
    @property
    def admin_dsn(self) -> str:
        return self.embedded.dsn() if self.embedded else self.settings.db_url  # type: ignore[return-value]

    @property
    def public_url(self) -> str:
        """The DB_URL a person connects with (psql, a GUI); an external URL's password hidden."""
        return self.embedded.tcp_url() if self.embedded else redact(self.settings.db_url or "")

    @property
    def connect_url(self) -> str:
        """A URL with its password, for programs (functions' SUPABASE_DB_URL)."""
        return self.embedded.tcp_url() if self.embedded else self.settings.db_url or ""

    def role_dsn(self, role: str) -> str:
        if self.embedded:
            return self.embedded.dsn(user=role)
        return self._as_role(self.settings.db_url or "", role)

    def read_dsns(self, role: str = "authenticator") -> list[str]:
        """The read replicas' URLs as `role` (a physical replica has the primary's roles and passwords)."""
        return [self._as_role(url, role) for url in self.settings.read_replicas.urls]

    def _as_role(self, url: str, role: str) -> str:
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = f"{quote(role)}:{quote(self._role_passwords()[role])}@{host}"
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))

    def database(self, rest_pool_size: int = 20) -> Database:
        limits = self.settings.limits
        return Database(self.role_dsn("authenticator"), self.role_dsn("supabase_auth_admin"),
                        self.admin_dsn, rest_pool_size=rest_pool_size,
                        connect_timeout=limits.db_connect_timeout, pool_timeout=limits.db_pool_timeout)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        self.launch()
        self.wait_ready()

    @property
    def needs_init(self) -> bool:
        """An embedded cluster that launch() must create first (initdb)."""
        return self.embedded is not None and not self.embedded.initialized

    def launch(self) -> None:
        """A new data folder's cluster (copied from the cluster template, or made: provision.py), and
        start the postmaster without waiting for it (call it from the main thread: see
        EmbeddedPostgres.launch)."""
        if self.embedded:
            if self.embedded.initialized:
                self.fresh = self.embedded.init()  # checks the PostgreSQL version
            else:
                self.new = provision.new_cluster(self.embedded, self.settings)
                self.fresh = True
            self.embedded.launch()

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until the embedded PostgreSQL accepts connections (any thread)."""
        if self.embedded:
            self.embedded.wait_ready(timeout)

    def stop(self) -> None:
        if self.embedded:
            self.embedded.stop()
        if self.new is not None:
            self.new.wait_published()  # the cluster template being written to the cache

    async def _connect_admin(self, **kw) -> asyncpg.Connection:
        try:
            return await asyncpg.connect(self.admin_dsn, **kw)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            if self.embedded:
                raise
            raise DatabaseUnreachable(f"cannot connect to the database at {self.public_url} "
                                      f"(DATABASE_URL / --db-url): {exc}") from None

    async def prepare(self, *, seed: bool | None = None,
                      check: Callable[[asyncpg.Connection], Awaitable[None]] | None = None) -> PrepareReport:
        """Bootstrap + pending migrations (+ seed on a new database, or when asked), then `check`
        (still under the lock). Several nodes starting at once on one database take turns (a
        session advisory lock): the first applies what is pending, the others wait, then find
        nothing left to apply and serve."""
        conn = await self._connect_admin()
        try:
            await _take_turn(conn)
            # a cluster copied from the template is new until its first prepare (provision.py)
            missing, not_started = await conn.fetchrow(
                "select to_regclass('supabase_migrations.schema_migrations') is null, "
                "coalesce(obj_description(to_regnamespace('supabase_migrations'), 'pg_namespace') = $1, false)",
                provision.NOT_STARTED)
            fresh = self.fresh or missing or not_started
            if fresh and not (self.new and self.new.bootstrapped):
                await bootstrap.apply_bootstrap(conn)
            else:  # a cluster copied from the template is checked (one query), not bootstrapped again
                await bootstrap.ensure_bootstrap(conn)
            if self.embedded:
                await self._set_superuser_password(conn)
            else:
                await self._set_role_passwords(conn)
            # as on Supabase (the postgres role's search_path): migrations and seeds call extensions'
            # functions (uuid_generate_v4(), crypt() ...) unqualified
            await conn.execute('set search_path = "$user", public, extensions')
            applied = await migrations.apply_pending(conn, self.settings.migrations_dir)
            seeded = False
            if seed or (seed is None and fresh):
                seeded = await migrations.apply_seed(conn, self.settings.seed_file)
            if check is not None:
                await check(conn)
            if not_started:
                await conn.execute("comment on schema supabase_migrations is null")  # prepared: not new now
            if self.new is not None:
                self.new.publish()  # the cluster template, to disk now that this start is done with it
            return PrepareReport(fresh, applied, seeded)
        finally:
            await conn.close()

    async def reset(self) -> PrepareReport:
        """Drop and re-create the database (as `supabase db reset` does), then bootstrap, apply
        every migration and the seed. Roles live in the cluster and survive; bootstrap re-grants."""
        name = urlsplit(self.admin_dsn).path.lstrip("/") or "postgres"
        conn = await self._connect_admin(database="template1")
        try:
            ident = await conn.fetchval("select quote_ident($1)", name)
            exists = await conn.fetchval("select true from pg_database where datname = $1", name)
            if exists:
                # a running Localbase's Realtime would reconnect and re-create its slot between the
                # slot's drop and the database's (which a slot blocks): no new connection meanwhile
                await conn.execute(f"alter database {ident} allow_connections false")
                try:
                    await _drop_replication_slots(conn, name)
                    await conn.execute(f"drop database {ident} with (force)")
                except BaseException:
                    await conn.execute(f"alter database {ident} allow_connections true")
                    raise
            await conn.execute(f"create database {ident}")
        finally:
            await conn.close()
        self.fresh = True
        if self.new is not None:
            self.new.bootstrapped = False  # a new database: bootstrapped from scratch
        return await self.prepare(seed=True)

    # External databases: the login roles' passwords are derived from a secret every node has (the
    # URL's password, or [db] role_secret), so that nodes with data folders of their own agree;
    # without either, generated and kept in the data folder (one node only).
    def _role_passwords(self) -> dict[str, str]:
        key = self.settings.db_role_secret or unquote(urlsplit(self.settings.db_url or "").password or "")
        if key:
            return {role: derived_password(key, role) for role in LOGIN_ROLES}
        path = self.settings.data_dir / ROLE_PASSWORDS_FILE
        stored = json.loads(path.read_text()) if path.exists() else {}
        if all(role in stored for role in LOGIN_ROLES):
            return stored
        for role in LOGIN_ROLES:
            stored.setdefault(role, secrets.token_urlsafe(24))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh)
        return stored

    async def _set_superuser_password(self, conn: asyncpg.Connection) -> None:
        """The embedded `postgres` role's TCP password, at every start: a data folder of an earlier
        version (password `postgres`) gets the generated one, or the configured one."""
        assert self.embedded is not None
        literal = await conn.fetchval("select quote_literal($1)", credentials.scram_verifier(self.embedded.password))
        await conn.execute(f'alter role "{SUPERUSER}" with password {literal}')

    async def _set_role_passwords(self, conn: asyncpg.Connection) -> None:
        for role, password in self._role_passwords().items():
            # ALTER ROLE takes no bind parameters; the password is generated by us (url-safe
            # alphabet), and quote_literal is applied by the server all the same.
            literal = await conn.fetchval("select quote_literal($1)", password)
            await conn.execute(f'alter role "{role}" with login password {literal}')




PREPARE_LOCK = 5432002  # pg_advisory_lock key: one node at a time applies bootstrap + migrations


async def _take_turn(conn: asyncpg.Connection) -> None:
    """Hold the prepare lock for the rest of this session (released when the connection closes)."""
    if await conn.fetchval("select pg_try_advisory_lock($1)", PREPARE_LOCK):
        return
    log.info("another node is applying migrations; waiting for it")
    started = time.monotonic()
    await conn.execute("select pg_advisory_lock($1)", PREPARE_LOCK)
    log.info("the other node finished its migrations (waited %.1fs)", time.monotonic() - started)


def derived_password(key: str, role: str) -> str:
    """A login role's password from a shared secret: the same on every node, and not the secret."""
    digest = hmac.new(key.encode(), f"localbase login role {role}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def _drop_replication_slots(conn: asyncpg.Connection, database: str) -> None:
    """Realtime's logical replication slot lives in the database and would block its drop: stop
    the process streaming it (a running Localbase reconnects and re-creates it) and drop it."""
    for _ in range(50):
        await conn.execute("select pg_terminate_backend(active_pid) from pg_replication_slots "
                           "where database = $1 and active_pid is not null", database)
        try:
            await conn.execute("select pg_drop_replication_slot(slot_name) from pg_replication_slots "
                               "where database = $1", database)
        except asyncpg.ObjectInUseError:
            await asyncio.sleep(0.1)
            continue
        if not await conn.fetchval("select count(*) from pg_replication_slots where database = $1", database):
            return
        await asyncio.sleep(0.1)


def superuser_password(settings: Settings) -> str:
    """The embedded superuser's password: the configured one, else generated in the data folder."""
    return settings.db_password or credentials.load_or_create(settings.data_dir)


def redact(url: str) -> str:
    """`url` with its password shown as ****."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:****@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
