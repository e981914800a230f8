"""`efficiency-hub doctor` on the hub's Localbase: healthy as deployed (development mode: the
production requirements only warn), and a failure for each thing the hub must not do."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import asyncpg

from tests.hub.conftest import ROOT


def doctor(hub_server, *args: str) -> tuple[int, dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE_", "LOCALBASE_"))}
    done = subprocess.run([sys.executable, "-m", "efficiency_hub.cli.main", "doctor", "--workdir", str(ROOT),
                           "--data-dir", str(hub_server.data_dir), "-o", "json", *args],
                          capture_output=True, text=True, timeout=60, env=env, check=False)
    return done.returncode, json.loads(done.stdout)


def by_name(report: dict) -> dict[str, dict]:
    return {check["name"]: check for check in report["checks"]}


def test_the_hub_as_deployed_is_healthy(hub_server):
    code, report = doctor(hub_server)
    checks = by_name(report)
    assert code == 0, report
    for name in ("row level security", "migrations", "realtime publication", "hub: optimizer deployed",
                 "hub: indexes for policies", "hub: anon reads citizens", "hub: anon reads efficiency_metrics"):
        assert checks[name]["status"] == "pass", checks[name]
    assert checks["hub: API without service role"]["status"] == "info"  # no API running for this project


def test_production_mode_fails_on_email_confirmation_and_backups(hub_server):
    code, report = doctor(hub_server, "--production")
    failed = {c["name"] for c in report["checks"] if c["status"] == "fail"}
    assert code == 1 and {"auth email confirmation", "backups"} <= failed, report


def test_an_api_holding_the_service_role_key_fails(hub_server):
    env = {**os.environ, "SUPABASE_URL": hub_server.url, "SUPABASE_ANON_KEY": hub_server.anon_key,
           "SUPABASE_SERVICE_ROLE_KEY": hub_server.service_role_key}
    from localbase.testing.server import free_port
    port = free_port()
    api = subprocess.Popen([sys.executable, "-m", "uvicorn", "efficiency_hub.api:create_app", "--factory",
                            "--port", str(port), "--log-level", "warning"], env=env)
    try:
        import time

        import httpx
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/health")
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        code, report = doctor(hub_server, "--api-url", f"http://127.0.0.1:{port}")
    finally:
        api.terminate()
        api.wait(10)
    check = by_name(report)["hub: API without service role"]
    assert code == 1 and check["status"] == "fail" and "SUPABASE_SERVICE_ROLE_KEY" in check["detail"]


async def test_anonymous_reads_fail_the_doctor(hub_server):
    conn = await asyncpg.connect(hub_server.db_url)
    try:
        await conn.execute("grant select on public.efficiency_metrics to anon; "
                           "create policy doctor_test on public.efficiency_metrics for select to anon using (true); "
                           "insert into public.citizens (citizen_id, name) values ('EFF-1999-001', 'Leak') "
                           "on conflict do nothing; "
                           "insert into public.efficiency_metrics "
                           "(citizen_id, optimization_score, delegation_efficiency) "
                           "select id, 50, 'maximum' from public.citizens where citizen_id = 'EFF-1999-001' "
                           "on conflict do nothing")
        code, report = doctor(hub_server)
    finally:
        await conn.execute("drop policy doctor_test on public.efficiency_metrics; "
                           "revoke select on public.efficiency_metrics from anon; "
                           "delete from public.citizens where citizen_id = 'EFF-1999-001'")
        await conn.close()
    check = by_name(report)["hub: anon reads efficiency_metrics"]
    assert code == 1 and check["status"] == "fail" and check["detail"].startswith("HTTP 200")
