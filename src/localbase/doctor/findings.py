"""Per-table findings about row level security, shared by the doctor's checks and Studio's
Policies page (which shows each one beside its table):

- a table with RLS off, or on without a policy (`rls_findings`);
- a view anon/authenticated can read that runs with its owner's rights (`view_findings`);
- a policy that reads another table by columns no index leads with (`policy_join_findings`):
  the policy runs for every row a query touches, so each check scans that table.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True)
class Finding:
    schema: str
    table: str
    kind: str  # rls_disabled, no_policy, view_owner_rights, unindexed_policy_join
    message: str

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


RLS_SQL = """
select n.nspname as schema, c.relname as name, c.relrowsecurity as rls,
       (select count(*) from pg_policy p where p.polrelid = c.oid) as policies
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p') and n.nspname = any($1::text[]) and not c.relispartition
order by 1, 2
"""

VIEWS_SQL = """
select n.nspname as schema, c.relname as name from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('v', 'm') and n.nspname = any($1::text[])
  and not coalesce('security_invoker=true' = any(c.reloptions) or 'security_invoker=on' = any(c.reloptions), false)
  and (has_table_privilege('anon', c.oid, 'select') or has_table_privilege('authenticated', c.oid, 'select'))
order by 1, 2
"""

# The columns of other tables each policy reads (PostgreSQL records them as the policy's
# dependencies), by referenced table, with whether an index of that table leads with one of them.
POLICY_JOINS_SQL = """
with reads as (
  select p.polrelid, p.polname, d.refobjid as relid, array_agg(distinct d.refobjsubid) as attnums
  from pg_policy p
  join pg_depend d on d.classid = 'pg_policy'::regclass and d.objid = p.oid
   and d.refclassid = 'pg_class'::regclass and d.refobjsubid > 0 and d.refobjid <> p.polrelid
  group by 1, 2, 3
)
select n.nspname as schema, c.relname as name, r.polname as policy, rn.nspname as ref_schema,
       rc.relname as ref_table,
       array(select a.attname from pg_attribute a where a.attrelid = r.relid and a.attnum = any(r.attnums)
             order by a.attnum)::text[] as columns
from reads r
join pg_class c on c.oid = r.polrelid join pg_namespace n on n.oid = c.relnamespace
join pg_class rc on rc.oid = r.relid join pg_namespace rn on rn.oid = rc.relnamespace
where n.nspname = any($1::text[]) and rc.relkind in ('r', 'p', 'm')
  and not exists (select 1 from pg_index i where i.indrelid = r.relid and i.indkey[0] = any(r.attnums))
order by 1, 2, 3, 4, 5
"""


async def rls_findings(conn: asyncpg.Connection, schemas: list[str]) -> tuple[list[Finding], int]:
    """Tables with RLS off or without a policy, and how many tables were looked at."""
    rows = await conn.fetch(RLS_SQL, schemas)
    found = []
    for r in rows:
        if not r["rls"]:
            found.append(Finding(r["schema"], r["name"], "rls_disabled", "row level security is disabled: every "
                                 "row is open to whoever the grants allow (enable it and add policies)"))
        elif not r["policies"]:
            found.append(Finding(r["schema"], r["name"], "no_policy", "row level security is on but the table "
                                 "has no policy: only service_role reaches it (add a policy, or move it out of "
                                 "the exposed schemas)"))
    return found, len(rows)


async def view_findings(conn: asyncpg.Connection, schemas: list[str]) -> list[Finding]:
    return [Finding(r["schema"], r["name"], "view_owner_rights",
                    "readable by anon/authenticated with its owner's rights (RLS bypassed); use "
                    "`with (security_invoker = true)`")
            for r in await conn.fetch(VIEWS_SQL, schemas)]


async def policy_join_findings(conn: asyncpg.Connection, schemas: list[str]) -> list[Finding]:
    found = []
    for r in await conn.fetch(POLICY_JOINS_SQL, schemas):
        ref = f"{r['ref_schema']}.{r['ref_table']}"
        columns = ", ".join(r["columns"])
        found.append(Finding(r["schema"], r["name"], "unindexed_policy_join",
                             f"policy {r['policy']!r} reads {ref} by ({columns}) and no index of {ref} leads "
                             f"with one of them: every row checked scans it (create index on {ref} "
                             f"({r['columns'][0]}))"))
    return found
