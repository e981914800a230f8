"""Policies: every table's row level security policies in plain words, with the doctor's findings
(RLS off, no policy, views running with their owner's rights, unindexed policy joins) beside it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from localbase.doctor import findings
from localbase.studio import catalog, wording
from localbase.studio.pages.common import services
from localbase.studio.render import page


async def index(request: Request) -> HTMLResponse:
    svc = services(request)
    exposed = list(svc.schema.exposed)
    async with svc.owner.acquire() as conn:
        tables = await catalog.tables(conn, count=False)
        policies = await catalog.policies(conn)
        found = (await findings.rls_findings(conn, exposed))[0] + await findings.view_findings(conn, exposed) \
            + await findings.policy_join_findings(conn, exposed)
    by_table: dict[str, list] = {}
    for p in policies:
        by_table.setdefault(f"{p.schema}.{p.table}", []).append((p, wording.describe(p)))
    notes: dict[str, list[findings.Finding]] = {}
    for f in found:
        notes.setdefault(f.name, []).append(f)
    # the exposed schemas' tables and views, then any other table that has RLS or policies
    shown = [t for t in tables if t.schema in exposed or t.rls or f"{t.schema}.{t.name}" in by_table]
    shown.sort(key=lambda t: (t.schema not in exposed, t.schema, t.name))
    return page(request, "policies.html", title="Policies", active="policies", tables=shown, policies=by_table,
                notes=notes, exposed=exposed, warnings=len(found))


def routes() -> list[Route]:
    return [Route("/policies", index)]
