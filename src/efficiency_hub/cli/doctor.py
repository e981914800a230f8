"""`efficiency-hub doctor`: Localbase's deployment checks plus the hub's own.

The hub's checks look at the deployment from the outside, as a user would, so they hold on a real
Supabase project too: anonymous callers read nothing, the optimizer is deployed and refuses them,
the API holds no service-role key; and, with a database connection, every foreign key the
policies join on is indexed."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from efficiency_hub.settings import HubSettings
from localbase.doctor import Check, Context

HUB_TABLES = ("citizens", "efficiency_events", "organizational_hierarchy", "efficiency_workspaces",
              "workspace_members", "efficiency_metrics", "event_types")
STATE_FILE = "hub.json"  # written by `efficiency-hub up` beside Localbase's server.json


def write_state(data_dir: Path, **urls: str | None) -> Path:
    path = data_dir / STATE_FILE
    path.write_text(json.dumps(urls))
    return path


def read_state(data_dir: Path) -> dict:
    try:
        return json.loads((data_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def hub_checks(hub: HubSettings | None, api_url: str | None):
    """The hub's checks, as functions of the doctor's context."""

    async def check_anonymous_reads(ctx: Context) -> list[Check]:
        if hub is None:
            return [Check("hub: anonymous reads", False, "no backend found (SUPABASE_URL, or a running Localbase)")]
        headers = {"apikey": hub.anon_key, "Authorization": f"Bearer {hub.anon_key}"}
        found = []
        async with httpx.AsyncClient(timeout=10) as client:
            for table in HUB_TABLES:
                answer = await client.get(f"{hub.supabase_url}/rest/v1/{table}", params={"select": "*", "limit": "1"},
                                          headers=headers)
                refused = answer.status_code in (401, 403)
                empty = answer.status_code == 200 and answer.json() == []
                detail = ("refused" if refused else "no rows" if empty
                          else f"HTTP {answer.status_code}: {answer.text[:120]}")
                found.append(Check(f"hub: anon reads {table}", refused or empty, detail))
        return found

    async def check_optimizer(ctx: Context) -> Check:
        if hub is None:
            return Check("hub: optimizer deployed", False, "no backend found")
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(f"{hub.supabase_url}/functions/v1/efficiency-optimizer",
                                       json={"citizen_id": "EFF-2025-001", "task_data": {}},
                                       headers={"apikey": hub.anon_key, "Authorization": f"Bearer {hub.anon_key}"})
        if answer.status_code == 404:
            return Check("hub: optimizer deployed", False, "efficiency-optimizer is not deployed (404)")
        ok = answer.status_code == 401
        return Check("hub: optimizer deployed", ok, "deployed, and refuses an anonymous caller (401)" if ok
                     else f"an anonymous caller got {answer.status_code}: {answer.text[:120]}")

    async def check_api_key(ctx: Context) -> Check:
        if not api_url:
            return Check("hub: API without service role", True,
                         "no hub API found (start `efficiency-hub up`, or pass --api-url)", "info")
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                health = (await client.get(f"{api_url}/health")).json()
        except (httpx.HTTPError, ValueError) as exc:
            return Check("hub: API without service role", False, f"{api_url}/health: {exc}")
        if health.get("service_role_configured"):
            return Check("hub: API without service role", False,
                         "the API process holds SUPABASE_SERVICE_ROLE_KEY: user requests must run with the "
                         "user's token only; remove it from the API's environment")
        return Check("hub: API without service role", True, f"{api_url} holds only the anon key")

    async def check_policy_indexes(ctx: Context) -> Check:
        if ctx.conn is None:
            return Check("hub: indexes for policies", False, "not checked: no database connection", "warning")
        rows = await ctx.conn.fetch("""
            select c.conrelid::regclass::text as tbl, a.attname as col
              from pg_constraint c
              join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
             where c.contype = 'f' and c.connamespace = 'public'::regnamespace
               and c.conrelid::regclass::text = any($1::text[])
               and not exists (select 1 from pg_index i where i.indrelid = c.conrelid and i.indkey[0] = c.conkey[1])
        """, list(HUB_TABLES))
        missing = [f"{r['tbl']}.{r['col']}" for r in rows]
        return Check("hub: indexes for policies", not missing,
                     f"no index leads with {', '.join(missing)}" if missing
                     else "every foreign key the policies join on leads an index")

    return [check_anonymous_reads, check_optimizer, check_api_key, check_policy_indexes]
