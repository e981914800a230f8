"""Doctor checks on who can reach the database (issue 12): a well-known superuser password,
`trust` in pg_hba.conf, and a listen address beyond loopback without TLS. Each is a production
requirement (an error with --production, a warning in development)."""

from __future__ import annotations

import ipaddress
from urllib.parse import unquote, urlsplit

import asyncpg

from localbase.database.credentials import WELL_KNOWN_PASSWORDS
from localbase.doctor.model import Check, Context

LOOPBACK_NAMES = {"localhost", ""}


def _tcp_target(ctx: Context) -> tuple[str, int, list[str], str | None] | None:
    """(host, port, roles to try, the URL's own password) of the database's TCP address."""
    if ctx.settings.db_url:
        parts = urlsplit(ctx.settings.db_url)
        if not parts.hostname or parts.hostname.startswith("/"):
            return None  # a Unix socket URL: no TCP password to guess
        user = unquote(parts.username or "postgres")
        return parts.hostname, parts.port or 5432, sorted({user, "postgres"}), \
            unquote(parts.password) if parts.password is not None else None
    from localbase.process import server
    state = server.read_state(ctx.settings)
    port = int(state["db_port"]) if state else ctx.settings.db_port
    return "127.0.0.1", port, ["postgres"], None


async def _accepts(host: str, port: int, user: str, password: str) -> bool | None:
    """True: logged in; False: refused; None: could not ask (unreachable, ...)."""
    try:
        conn = await asyncpg.connect(host=host, port=port, user=user, password=password, database="postgres",
                                     timeout=5, ssl="prefer")
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError):
        return False
    except asyncpg.InvalidCatalogNameError:
        return True  # the password was accepted; only the database name was wrong
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return None
    await conn.close()
    return True


async def check_db_password(ctx: Context) -> Check:
    target = _tcp_target(ctx)
    if target is None:
        return Check("database password", True, "the database is reached over a Unix socket", "info")
    host, port, users, own = target
    if own is not None and own.lower() in WELL_KNOWN_PASSWORDS:
        return Check("database password", False, f"the database URL uses a well-known password for "
                     f"{users[0]}; set a strong one", ctx.required)
    for user in users:
        for password in sorted(WELL_KNOWN_PASSWORDS):
            accepted = await _accepts(host, port, user, password)
            if accepted is None:
                return Check("database password", False, f"not checked: {host}:{port} did not answer a login",
                             "warning")
            if accepted:
                return Check("database password", False, f"{host}:{port} accepts role {user} with a well-known "
                             f"password; remove [db] password (a strong one is generated) or set a strong one",
                             ctx.required)
    return Check("database password", True, f"{host}:{port} refuses the well-known passwords "
                 f"({len(WELL_KNOWN_PASSWORDS)} tried for {', '.join(users)})")


async def check_pg_hba(ctx: Context) -> Check:
    assert ctx.conn is not None  # a database check: run only with a connection
    try:
        rows = await ctx.conn.fetch(
            "select line_number, type, database, user_name, address from pg_hba_file_rules "
            "where auth_method = 'trust' order by line_number")
    except asyncpg.InsufficientPrivilegeError:
        return Check("database trust", False, "not checked: reading pg_hba_file_rules needs a superuser", "warning")
    if rows:
        lines = "; ".join(f"line {r['line_number']}: {r['type']} {','.join(r['database'] or [])} "
                          f"{','.join(r['user_name'] or [])} {r['address'] or ''}".strip() for r in rows)
        return Check("database trust", False, f"pg_hba.conf lets in without a password ({lines}): whoever "
                     f"reaches it is that role", ctx.required)
    return Check("database trust", True, "no `trust` line in pg_hba.conf")


def _loopback(address: str) -> bool:
    address = address.strip()
    if address.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # '*', '0.0.0.0' is an address too (not loopback), or a host name


async def check_listen(ctx: Context) -> Check:
    assert ctx.conn is not None  # a database check: run only with a connection
    listen = await ctx.conn.fetchval("show listen_addresses")
    ssl = await ctx.conn.fetchval("show ssl")
    beyond = [a.strip() for a in listen.split(",") if not _loopback(a)]
    if not beyond:
        return Check("database listen", True, f"loopback only ({listen or 'Unix socket only'})")
    if ssl == "on":
        return Check("database listen", True, f"listens on {', '.join(beyond)} with TLS (ssl = on)")
    return Check("database listen", False, f"listens on {', '.join(beyond)} without TLS (ssl = off): passwords "
                 f"and data cross the network in clear", ctx.required)
