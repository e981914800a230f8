"""What `localbase doctor` checks on a deployment, as a list other tools reuse and extend.

    from localbase.doctor import Check, run_checks, render
    checks = run_checks(settings)                  # the project's database: DATABASE_URL, or the running server's
    checks += [Check("hub: optimizer", ok, "...")]  # an application's own checks
    render(checks)

A check is an `async def check(ctx: Context) -> Check | list[Check]`; pass more in `extra=` to run
them with the same context (ctx.conn: the database connection, None when it is unreachable).
Severity "error" fails the run, "warning" is reported (and fails with --strict), "info" only informs.
Production mode ([localbase] mode = "production", LOCALBASE_MODE=production or --production) turns
the auth, backup and database-access checks (doctor/access.py) into errors.

Auth settings are read as the server reads them (config.toml + LOCALBASE_AUTH_* variables), so
run the doctor with the server's environment; when the server answers, its live
/auth/v1/settings decides email confirmation.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path

import asyncpg
import httpx

from localbase.doctor import findings
from localbase.doctor.access import check_db_password, check_listen, check_pg_hba
from localbase.doctor.model import SEVERITIES, Check, Context  # noqa: F401 - re-exported
from localbase.doctor.nodes import check_nodes
from localbase.settings import Settings, load_settings

# Secrets published in docs and templates: anyone can sign tokens with them.
KNOWN_SECRETS = frozenset({
    "super-secret-jwt-token-with-at-least-32-characters-long",        # Supabase CLI (supabase start)
    "your-super-secret-jwt-token-with-at-least-32-characters-long",   # Supabase's docker/.env.example
    "your-super-secret-and-long-postgres-password",
    "change-me-to-a-long-random-secret-of-32-chars-or-more",          # deploy/.env.example here
})


CheckFn = Callable[[Context], Awaitable["Check | list[Check]"]]


# -- the checks ---------------------------------------------------------------------------------
async def check_jwt_secret(ctx: Context) -> Check:
    secret = ctx.settings.jwt_secret
    if not secret:
        return Check("jwt secret", False, "no JWT secret (LOCALBASE_JWT_SECRET or the data folder's keys.json)")
    if secret in KNOWN_SECRETS:
        return Check("jwt secret", False, "a well-known default from published docs: anyone can sign a "
                     "service_role token; set LOCALBASE_JWT_SECRET to a new random value")
    if len(secret) < 32:
        return Check("jwt secret", False, f"{len(secret)} characters; at least 32 needed")
    if len(set(secret)) < 10:
        return Check("jwt secret", False, f"{len(set(secret))} distinct characters: not random")
    return Check("jwt secret", True, f"{len(secret)} characters, not a known default")


async def check_api(ctx: Context) -> Check:
    if not ctx.api_url:
        return Check("api health", True, "no running server found (give --api-url to check one)", "info")
    try:
        r = await asyncio.to_thread(httpx.get, f"{ctx.api_url}/health", timeout=5)
    except httpx.HTTPError as exc:
        return Check("api health", False, f"{ctx.api_url}/health: {type(exc).__name__}: {exc}")
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    if r.status_code != 200:
        return Check("api health", False,
                     f"{ctx.api_url}/health answered {r.status_code}: {body.get('detail', r.text[:200])}")
    return Check("api health", True, f"{ctx.api_url}: {body.get('status')} (version {body.get('version')}, "
                 f"up {body.get('uptime')}s)")


async def check_rls(ctx: Context) -> list[Check]:
    schemas = list(ctx.settings.api_schemas)
    found, tables = await findings.rls_findings(ctx.db, schemas)
    if found:
        return [Check(f"rls {f.name}", False, f.message) for f in found]
    return [Check("row level security", True, f"{tables} table(s) in {', '.join(schemas)}: RLS on, "
                  f"each with a policy")]


async def check_views(ctx: Context) -> Check:
    """Views run with their owner's rights unless security_invoker is set: through one, anon or
    authenticated read the underlying rows without their RLS policies."""
    found = await findings.view_findings(ctx.db, list(ctx.settings.api_schemas))
    if found:
        names = ", ".join(f.name for f in found)
        return Check("views", False, f"readable by anon/authenticated with their owner's rights (RLS bypassed): "
                     f"{names}; use `with (security_invoker = true)`", "warning")
    return Check("views", True, "no exposed view bypasses RLS")


async def check_policy_indexes(ctx: Context) -> list[Check]:
    """A policy that reads another table (`exists (select 1 from members where ...)`) runs for every
    row a query touches: without an index on the columns it reads, each check scans that table."""
    found = await findings.policy_join_findings(ctx.conn, list(ctx.settings.api_schemas))
    if found:
        return [Check(f"policy index {f.name}", False, f.message, "warning") for f in found]
    return [Check("policy indexes", True, "every policy that reads another table finds an index")]


async def check_studio(ctx: Context) -> Check:
    """Studio runs any SQL as the database owner: it belongs on loopback."""
    studio = ctx.settings.studio
    if not studio.enabled:
        return Check("studio", True, "disabled")
    where = f"{studio.host}:{studio.port}"
    if studio.loopback:
        return Check("studio", True, f"on {where}, loopback only" + (" (password required)" if
                                                                     studio.login_required else ""))
    if not studio.login_required:
        return Check("studio", False, f"listens on {where} without a password: it refuses to start so; set "
                     "[studio] password_hash or keep it on 127.0.0.1")
    return Check("studio", False, f"listens on {where}, reachable from other machines (password required); anyone "
                 "who gets in runs any SQL as the database owner: keep it on 127.0.0.1 (reach it through an SSH "
                 "tunnel) or disable it ([studio] enabled = false)", "warning")


async def check_auth(ctx: Context) -> list[Check]:
    from localbase.auth.config import RateLimits, load_auth_config
    cfg = load_auth_config(ctx.settings)
    checks = []
    confirmations, source = cfg.enable_confirmations, "config"
    if ctx.api_url:
        try:
            r = await asyncio.to_thread(httpx.get, f"{ctx.api_url}/auth/v1/settings",
                                        headers={"apikey": ctx.settings.anon_key}, timeout=5)
            if r.status_code == 200:
                confirmations, source = not r.json().get("mailer_autoconfirm", True), "the running server"
        except httpx.HTTPError:
            pass
    mode = "" if ctx.production else " (required in production)"
    checks.append(Check("auth email confirmation", confirmations,
                        f"on ({source})" if confirmations else
                        f"off ({source}): anyone signs up with any address; [auth.email] enable_confirmations "
                        f"= true{mode}", ctx.required))
    if confirmations:
        checks.append(Check("auth smtp", cfg.smtp is not None,
                            f"{cfg.smtp.host}:{cfg.smtp.port}" if cfg.smtp else
                            "no SMTP server: confirmation mails are only kept in auth.localbase_mailbox "
                            "([auth.email.smtp] or LOCALBASE_AUTH_SMTP_URL)", ctx.required))
    off = [name for name in RateLimits.__dataclass_fields__ if name != "window_s"
           and getattr(cfg.rate_limits, name) <= 0]
    checks.append(Check("auth rate limits", not off,
                        "on: " + ", ".join(f"{n}={getattr(cfg.rate_limits, n)}" for n in
                                           ("sign_in_sign_ups", "token_refresh", "token_verifications", "email_sent"))
                        if not off else f"disabled (0): {', '.join(off)}{mode}", ctx.required))
    if ctx.production and any(host in cfg.site_url for host in ("localhost", "127.0.0.1")):
        checks.append(Check("auth site url", False, f"{cfg.site_url}: links in mails point to a local address",
                            "warning"))
    return checks


def expected_tables(settings: Settings) -> list[str] | None:
    raw = settings.section("realtime").get("expected_tables")
    if raw is None:
        return None
    return sorted(name if "." in name else f"public.{name}" for name in raw)


async def check_realtime(ctx: Context) -> Check:
    exists = await ctx.db.fetchval("select count(*) from pg_publication where pubname = 'supabase_realtime'")
    if not exists:
        return Check("realtime publication", False, "publication supabase_realtime does not exist")
    rows = await ctx.db.fetch("select schemaname || '.' || tablename as t from pg_publication_tables "
                                "where pubname = 'supabase_realtime' order by 1")
    held = [r["t"] for r in rows]
    expected = expected_tables(ctx.settings)
    if expected is None:
        return Check("realtime publication", True, f"holds {', '.join(held) or 'no table'} "
                     "(set [realtime] expected_tables to check it)", "info")
    missing = [t for t in expected if t not in held]
    extra = [t for t in held if t not in expected]
    if missing:
        return Check("realtime publication", False, f"missing {', '.join(missing)} "
                     f"(alter publication supabase_realtime add table ...)")
    return Check("realtime publication", True, f"holds the {len(expected)} expected table(s)"
                 + (f"; also {', '.join(extra)}" if extra else ""))


async def check_backups(ctx: Context) -> Check:
    from localbase.backup.config import BackupConfig
    from localbase.backup.scheduler import scheduled_dumps
    section = ctx.settings.section("backup")
    if section.get("external"):
        return Check("backups", True, f"handled outside Localbase: {section['external']}")
    config = BackupConfig.from_settings(ctx.settings)
    if not config.scheduled:
        return Check("backups", False, "no [backup] schedule (or LOCALBASE_BACKUP_SCHEDULE); set one, or "
                     "[backup] external = \"how\" when the database is backed up elsewhere", ctx.required)
    database = await ctx.db.fetchval("select current_database()") if ctx.conn else "postgres"
    dumps = scheduled_dumps(config.dir, database)
    where = f"{config.schedule} to {config.dir}, keeping {config.keep}"
    if not dumps:
        return Check("backups", True, f"{where}; no dump yet", "info")
    age = time.time() - dumps[-1].stat().st_mtime
    if config.interval and age > 2 * config.interval + 60:
        return Check("backups", False, f"{where}; the newest dump is {_ago(age)} old", "warning")
    return Check("backups", True, f"{where}; newest {_ago(age)} ago ({dumps[-1].name})")


async def check_migrations(ctx: Context) -> Check:
    from localbase.database.migrations import discover
    local = discover(ctx.settings.migrations_dir)
    if not await ctx.db.fetchval("select to_regclass('supabase_migrations.schema_migrations') is not null"):
        return Check("migrations", False, "no supabase_migrations.schema_migrations: migrations never ran here")
    applied = {r["version"] for r in await ctx.db.fetch("select version from supabase_migrations.schema_migrations")}
    pending = [m.path.name for m in local if m.version not in applied]
    unknown = sorted(applied - {m.version for m in local})
    if pending:
        return Check("migrations", False, f"{len(pending)} not applied: {', '.join(pending)}")
    if unknown:
        return Check("migrations", False, f"all {len(local)} applied, but the database has version(s) with no "
                     f"file in {ctx.settings.migrations_dir}: {', '.join(unknown)}", "warning")
    return Check("migrations", True, f"all {len(local)} applied" + (f", latest {local[-1].path.name}" if local else ""))


async def check_kafka(ctx: Context) -> Check:
    from localbase.bridge.health import kafka_check
    return await kafka_check(ctx)


def _ago(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


# Checks that need no database, then those that do (skipped, and said so, when it is unreachable).
STATIC_CHECKS: list[CheckFn] = [check_api, check_jwt_secret, check_db_password, check_auth, check_studio]
DATABASE_CHECKS: list[CheckFn] = [check_migrations, check_rls, check_views, check_policy_indexes, check_realtime,
                                  check_backups, check_pg_hba, check_listen, check_kafka, check_nodes]
CHECKS: list[CheckFn] = STATIC_CHECKS + DATABASE_CHECKS


# -- running them -------------------------------------------------------------------------------
def load_doctor_settings(project_dir: Path | str = ".", *, data_dir: Path | str | None = None,
                         db_url: str | None = None) -> Settings:
    """The project's settings as the doctor needs them, changing nothing: the JWT secret from
    LOCALBASE_JWT_SECRET or the data folder's keys.json, read only (load_settings would create or
    re-sign the keys)."""
    import json
    import os

    from localbase.security.keys import KEYS_FILE
    settings = load_settings(project_dir, data_dir=data_dir, db_url=db_url, with_keys=False)
    path = settings.data_dir / KEYS_FILE
    try:
        stored = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        stored = {}
    return replace(settings, jwt_secret=os.environ.get("LOCALBASE_JWT_SECRET") or stored.get("jwt_secret", ""),
                   anon_key=stored.get("anon_key", ""), service_role_key=stored.get("service_role_key", ""))


def find_database(settings: Settings) -> tuple[str | None, str | None]:
    """(database URL, API URL) of the deployment: DATABASE_URL, or the running server's."""
    from localbase.database.cluster import Cluster
    from localbase.process import server
    state = server.read_state(settings)
    api_url = state["api_url"] if state else None
    if settings.db_url:
        return settings.db_url, api_url
    if state is None:
        return None, None
    return Cluster(replace(settings, db_port=int(state["db_port"]))).admin_dsn, api_url


async def run_checks_async(settings: Settings, *, dsn: str | None = None, api_url: str | None = None,
                           production: bool | None = None, checks: Sequence[CheckFn] | None = None,
                           extra: Sequence[CheckFn] = ()) -> list[Check]:
    found_dsn, found_api = find_database(settings) if dsn is None else (dsn, None)
    ctx = Context(settings, production=settings.mode == "production" if production is None else production,
                  api_url=api_url or found_api)
    results: list[Check] = [Check("mode", True, f"{'production' if ctx.production else 'development'}"
                                  + ("" if ctx.production else ": production requirements are warnings"), "info")]
    try:
        if found_dsn:
            try:
                ctx.conn = await asyncpg.connect(found_dsn, timeout=10)
                version = await ctx.db.fetchval("show server_version")
                results.append(Check("database", True, f"PostgreSQL {version}"))
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                results.append(Check("database", False, f"cannot connect: {type(exc).__name__}: {exc}"))
        else:
            results.append(Check("database", False, "no database: Localbase is not running for "
                                 f"{settings.data_dir} and DATABASE_URL (--db-url) is not set"))
        for check in [*(checks if checks is not None else CHECKS), *extra]:
            if check in DATABASE_CHECKS and ctx.conn is None:  # extra checks look at ctx.conn themselves
                results.append(Check(_name(check), False, "not checked: no database connection", "warning"))
                continue
            try:
                found = await check(ctx)
            except Exception as exc:  # noqa: BLE001 - a check that breaks is a failed check, not a crashed doctor
                found = Check(_name(check), False, f"the check itself failed: {type(exc).__name__}: {exc}")
            results.extend(found if isinstance(found, list) else [found])
    finally:
        if ctx.conn is not None:
            await ctx.conn.close()
    return results


def run_checks(settings: Settings, **kwargs) -> list[Check]:
    """The checks' results (see run_checks_async for the arguments)."""
    return asyncio.run(run_checks_async(settings, **kwargs))


def _name(check: CheckFn) -> str:
    return getattr(check, "__name__", "check").removeprefix("check_").replace("_", " ")
