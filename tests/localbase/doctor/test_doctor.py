"""`localbase doctor` against a running deployment: what it finds wrong (tables without RLS or
policies, leaky views, weak or published JWT secrets, production settings, the realtime
publication, backups, migrations), what a fixed production deployment passes, and its checks as a
library (run_checks + extra checks + render)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from localbase.doctor import Check, Context, exit_code, render, run_checks
from localbase.settings import load_settings
from localbase.testing.server import LocalbaseProcess, free_port
from tests.localbase.helpers import sql

SCHEMA = """
create table good (id int primary key, owner uuid default auth.uid());
alter table good enable row level security;
create policy own on good for select to authenticated using (owner = auth.uid());
grant select on good to authenticated;

create table open_table (id int primary key, secret text);
grant select on open_table to anon, authenticated;

create table locked (id int primary key);
alter table locked enable row level security;

create view leaky as select * from good;
grant select on leaky to anon;

alter publication supabase_realtime add table good;
"""
FIXES = """
alter table open_table enable row level security;
create policy nobody_but_service on open_table for select to authenticated using (false);
create policy own on locked for select to authenticated using (true);
drop view leaky;
"""
PRODUCTION = """
[localbase]
mode = "production"

[backup]
schedule = "daily"
dir = "backups"

[realtime]
expected_tables = ["good"]
"""
PRODUCTION_ENV = {"LOCALBASE_AUTH_EMAIL_ENABLE_CONFIRMATIONS": "true",
                  "LOCALBASE_AUTH_SMTP_URL": "smtp://mailer:pw@127.0.0.1:2525",
                  "LOCALBASE_AUTH_SITE_URL": "https://hub.example.com"}


def doctor(project: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, dict]]:
    result = subprocess.run([sys.executable, "-m", "localbase", "doctor", "-o", "json", "--workdir", str(project),
                             *args], capture_output=True, text=True, timeout=120, check=False,
                            env={**os.environ, "NO_COLOR": "1", **(env or {})})
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] == (result.returncode == 0)
    return result.returncode, {c["name"]: c for c in report["checks"]}


@pytest.fixture(scope="module")
def project():
    with tempfile.TemporaryDirectory(prefix="lb-doctor-") as folder:
        root = Path(folder)
        (root / "supabase" / "migrations").mkdir(parents=True)
        (root / "supabase" / "migrations" / "20250101000000_schema.sql").write_text(SCHEMA)
        server = LocalbaseProcess(root, root / ".localbase")
        server.start()
        try:
            yield root, server
        finally:
            server.cleanup()


def test_finds_what_is_wrong_in_development(project):
    root, _ = project
    code, checks = doctor(root)
    assert code == 1
    assert checks["database"]["status"] == "pass" and checks["api health"]["status"] == "pass"
    assert checks["jwt secret"]["status"] == "pass"
    assert checks["rls public.open_table"]["status"] == "fail"
    assert "disabled" in checks["rls public.open_table"]["detail"]
    assert checks["rls public.locked"]["status"] == "fail"
    assert "no policy" in checks["rls public.locked"]["detail"]
    assert "rls public.good" not in checks
    assert checks["views"]["status"] == "warn" and "public.leaky" in checks["views"]["detail"]
    assert checks["migrations"]["status"] == "pass"
    assert checks["realtime publication"]["status"] == "info"
    assert "public.good" in checks["realtime publication"]["detail"]
    # production requirements are warnings in development
    assert checks["auth email confirmation"]["status"] == "warn"
    assert checks["backups"]["status"] == "warn"
    assert checks["auth rate limits"]["status"] == "pass"


def test_production_requirements_fail_in_production(project):
    root, _ = project
    code, checks = doctor(root, "--production")
    assert code == 1
    assert checks["auth email confirmation"]["status"] == "fail"
    assert "running server" in checks["auth email confirmation"]["detail"]
    assert checks["backups"]["status"] == "fail"
    code, checks = doctor(root, "--production", env={"LOCALBASE_AUTH_RATE_LIMIT_TOKEN_REFRESH": "0"})
    assert checks["auth rate limits"]["status"] == "fail" and "token_refresh" in checks["auth rate limits"]["detail"]


@pytest.mark.parametrize(("secret", "says"), [
    ("super-secret-jwt-token-with-at-least-32-characters-long", "well-known default"),
    ("a" * 40, "distinct characters"),
])
def test_weak_or_published_jwt_secret_fails(project, secret, says):
    root, _ = project
    code, checks = doctor(root, env={"LOCALBASE_JWT_SECRET": secret})
    assert code == 1
    assert checks["jwt secret"]["status"] == "fail" and says in checks["jwt secret"]["detail"]
    assert secret not in json.dumps(checks)


def test_migrations_pending_or_unknown(project):
    root, server = project
    extra = root / "supabase" / "migrations" / "20250102000000_later.sql"
    extra.write_text("create table later (id int);")
    try:
        _, checks = doctor(root)
        assert checks["migrations"]["status"] == "fail"
        assert "1 not applied: 20250102000000_later.sql" in checks["migrations"]["detail"]
    finally:
        extra.unlink()
    sql(server, "insert into supabase_migrations.schema_migrations (version, name) values ('20240101000000', 'gone')")
    try:
        _, checks = doctor(root)
        assert checks["migrations"]["status"] == "warn" and "20240101000000" in checks["migrations"]["detail"]
    finally:
        sql(server, "delete from supabase_migrations.schema_migrations where version = '20240101000000'")


def test_unreachable_database_fails_and_skips_its_checks(project):
    root, _ = project
    code, checks = doctor(root, "--db-url", f"postgresql://postgres:pw@127.0.0.1:{free_port()}/postgres")
    assert code == 1
    assert checks["database"]["status"] == "fail"
    assert checks["rls"]["detail"] == "not checked: no database connection"


def test_checks_as_a_library_with_an_application_check(project):
    """What an application's CLI does: run Localbase's checks with one of its own, render them."""
    root, server = project
    settings = replace(load_settings(root, data_dir=root / ".localbase"), mode="development")

    async def check_good_is_empty(ctx: Context) -> Check:
        n = await ctx.conn.fetchval("select count(*) from public.good")
        return Check("app: good is empty", n == 0, f"{n} row(s)", "warning")

    checks = run_checks(settings, dsn=server.db_url, extra=[check_good_is_empty])
    by_name = {c.name: c for c in checks}
    assert by_name["app: good is empty"].ok and by_name["database"].ok
    checks.append(Check("app: custom", False, "[not markup] shown as written"))
    console = Console(record=True, width=200, color_system=None)
    render(checks, console)
    text = console.export_text()
    assert "app: good is empty" in text and "[not markup] shown as written" in text and "✘ FAIL" in text
    assert exit_code(checks) == 1 and exit_code([c for c in checks if c.ok]) == 0


def test_a_policy_reading_another_table_wants_an_index(project):
    root, server = project
    sql(server, "create table teams (id int primary key)")
    sql(server, "create table members (team_id int, user_id uuid)")
    sql(server, "alter table teams enable row level security")
    sql(server, "create policy mine on teams for select to authenticated using "
                "(exists (select 1 from members m where m.team_id = teams.id and m.user_id = auth.uid()))")
    sql(server, "alter table members enable row level security")
    sql(server, "create policy own on members for select to authenticated using (user_id = auth.uid())")
    try:
        _, checks = doctor(root)
        found = checks["policy index public.teams"]
        assert found["status"] == "warn" and "reads public.members by (team_id, user_id)" in found["detail"]
        sql(server, "create index on members (user_id)")
        _, checks = doctor(root)
        assert checks["policy indexes"]["status"] == "pass"
    finally:
        sql(server, "drop table teams, members")


def test_studio_reachable_from_the_network_is_reported(project):
    root, _ = project
    _, checks = doctor(root)
    assert checks["studio"]["status"] == "pass" and "loopback only" in checks["studio"]["detail"]
    from localbase.studio.config import hash_password
    exposed = {"LOCALBASE_STUDIO_HOST": "0.0.0.0", "LOCALBASE_STUDIO_PASSWORD_HASH": hash_password("long password")}
    _, checks = doctor(root, "--production", env=exposed)
    assert checks["studio"]["status"] == "warn" and "reachable from other machines" in checks["studio"]["detail"]
    _, checks = doctor(root, env={"LOCALBASE_STUDIO": "false"})
    assert checks["studio"]["status"] == "pass" and checks["studio"]["detail"] == "disabled"


def test_a_fixed_production_deployment_passes(project):
    """Last: it changes the deployment and restarts its server."""
    root, server = project
    for statement in filter(str.strip, FIXES.split(";")):
        sql(server, statement)
    (root / "supabase" / "localbase.toml").write_text(PRODUCTION)
    server.stop()
    restarted = LocalbaseProcess(root, root / ".localbase", env=PRODUCTION_ENV)  # confirmations on, live
    restarted.start()
    try:
        code, checks = doctor(root, env=PRODUCTION_ENV)
        assert code == 0, {n: c for n, c in checks.items() if c["status"] in ("fail", "warn")}
        assert checks["mode"]["detail"] == "production"
        assert checks["row level security"]["status"] == "pass"
        assert checks["realtime publication"]["status"] == "pass"
        assert checks["auth smtp"]["status"] == "pass"
        assert checks["backups"]["status"] in ("pass", "info")
        # an expected table missing from the publication fails
        (root / "supabase" / "localbase.toml").write_text(PRODUCTION.replace('["good"]', '["good", "locked"]'))
        code, checks = doctor(root, env=PRODUCTION_ENV)
        assert code == 1 and "missing public.locked" in checks["realtime publication"]["detail"]
        # --strict fails on warnings: a backup schedule whose newest dump is long overdue (a folder
        # of its own: the running server's first scheduled dump, 30 s after start, lands in "backups")
        backups = root / "backups-overdue"
        backups.mkdir(exist_ok=True)
        old = backups / "localbase-postgres-20200101T000000.000000Z.dump"
        old.write_bytes(b"PGDMP")
        os.utime(old, (1_600_000_000, 1_600_000_000))
        overdue = PRODUCTION.replace('dir = "backups"', 'dir = "backups-overdue"')
        (root / "supabase" / "localbase.toml").write_text(overdue)
        code, checks = doctor(root, env=PRODUCTION_ENV)
        assert code == 0 and checks["backups"]["status"] == "warn"
        code, _ = doctor(root, "--strict", env=PRODUCTION_ENV)
        assert code == 1
    finally:
        restarted.stop()
