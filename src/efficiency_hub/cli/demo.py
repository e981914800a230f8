"""`efficiency-hub demo`: the hub's scenario end to end, readable: accounts and clearances, events
and a live intervention, the authenticated API, isolation side by side, and the optimizer.

Re-runnable: accounts that exist already are signed in rather than created."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from rich.console import Console
from rich.table import Table

from efficiency_hub.accounts import Accounts
from efficiency_hub.admin import Admin
from efficiency_hub.api import create_app
from efficiency_hub.clients import service_client, user_client
from efficiency_hub.errors import Conflict, HubError, NotFound
from efficiency_hub.models import Clearance
from efficiency_hub.monitor import Monitor
from efficiency_hub.settings import HubSettings
from efficiency_hub.tracker import Tracker

PASSWORD = "Demo-passw0rd"


@dataclass(frozen=True)
class Cast:
    key: str
    citizen_id: str
    name: str
    clearance: Clearance
    specialization: str

    @property
    def email(self) -> str:
        return f"{self.key}@efficiency-hub.demo"


DIRECTOR = Cast("director", "EFF-2025-001", "Ada Director", Clearance.violet, "operations")
ANALYST = Cast("analyst", "EFF-2025-002", "Ben Analyst", Clearance.green, "data analysis")
INTERN = Cast("intern", "EFF-2025-003", "Cy Intern", Clearance.infrared, "onboarding")


@asynccontextmanager
async def api_client(settings: HubSettings):
    """The hub's API in-process (same app as `efficiency-hub up` serves), with its lifespan."""
    app = create_app(HubSettings(settings.supabase_url, settings.anon_key))
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as client:
        yield client


class Demo:
    def __init__(self, settings: HubSettings, console: Console | None = None):
        self.settings = settings
        self.console = console or Console()
        self.tokens: dict[str, str] = {}

    def step(self, number: int, title: str) -> None:
        self.console.rule(f"[bold cyan]{number}. {title}")

    async def run(self) -> dict[str, object]:
        service = await service_client(self.settings)
        accounts = Accounts(self.settings)
        admin = Admin(service)
        results: dict[str, object] = {}

        self.step(1, "Set up")
        self.console.print(f"backend [bold]{self.settings.supabase_url}[/] (migrations applied, RLS on every table)")

        self.step(2, "Register citizens and read their metrics")
        for person in (DIRECTOR, ANALYST):
            await self._account(admin, person)
        await self._self_registered(accounts, INTERN)
        for person in (DIRECTOR, ANALYST, INTERN):
            self.tokens[person.key] = (await accounts.sign_in(person.email, PASSWORD)).access_token
        await admin.assign_supervisor(DIRECTOR.citizen_id, ANALYST.citizen_id)
        self.console.print(f"{DIRECTOR.name} supervises {ANALYST.name}")
        analyst = Tracker(await user_client(self.settings, self.tokens["analyst"]))
        me = await analyst.citizen(ANALYST.citizen_id)
        self.console.print(f"{me.name}: clearance [bold]{me.clearance_level.value}[/], score {me.efficiency_score:g}")

        self.step(3, "Live monitoring: a bad event gets an automatic intervention")
        monitor = Monitor(await service_client(self.settings), console=self.console)
        await monitor.start()
        stop = asyncio.Event()
        watching = asyncio.create_task(monitor.process(stop))
        try:
            await analyst.record_event(ANALYST.citizen_id, "task_completed", 5, {"task": "quarterly report"})
            bad = await analyst.record_event(ANALYST.citizen_id, "missed_deadline", -20, {"task": "migration"})
            intervention = await self._wait_for_intervention(service, bad.id)
        finally:
            stop.set()
            await watching
            await monitor.close()
            await monitor.client.realtime.close()
        after = await analyst.citizen(ANALYST.citizen_id)
        self.console.print(f"intervention #{intervention['id']} answered event #{bad.id}; "
                           f"{ANALYST.name}'s score is now [bold]{after.efficiency_score:g}[/]")
        results["intervention"] = intervention

        self.step(4, "The authenticated API")
        async with api_client(self.settings) as api:
            for person in (ANALYST, INTERN):
                answer = await api.get("/protected/efficiency-data",
                                       headers={"Authorization": f"Bearer {self.tokens[person.key]}"})
                body = answer.json()
                summary = (f"score {body['efficiency_score']:g}, trend {body['trend']['direction']}, "
                           f"{len(body['recent_events'])} recent events") if answer.status_code == 200 \
                    else body["detail"]
                style = "green" if answer.status_code == 200 else "red"
                self.console.print(f"GET /protected/efficiency-data as {person.name} ({person.clearance.value}): "
                                   f"[{style}]{answer.status_code}[/] {summary}")
                results[f"api_{person.key}"] = answer.status_code

        self.step(5, "Isolation and the optimizer function")
        optimized = await analyst.optimize(ANALYST.citizen_id, completion_time=1800, automation_level=1.2)
        self.console.print(f"efficiency-optimizer as {ANALYST.name}: score [bold]{optimized.optimization_score:g}[/], "
                           f"delegation {optimized.delegation_efficiency}")
        results["optimization_score"] = optimized.optimization_score
        results["isolation"] = await self._isolation_table(service)
        results["accounts"] = await self._accounts_table(admin)
        return results

    async def _accounts_table(self, admin: Admin) -> dict[str, str]:
        """The demo's accounts and their clearance now, to sign in with afterwards (the dashboard,
        POST /auth/login, `efficiency-hub grant`)."""
        table = Table(title="Demo accounts: sign in with these (dashboard, POST /auth/login)", header_style="bold")
        for column in ("email", "password", "citizen", "clearance"):
            table.add_column(column, no_wrap=True)
        clearances = {}
        for person in (DIRECTOR, ANALYST, INTERN):
            clearance = (await admin.tracker.citizen(person.citizen_id)).clearance_level.value
            clearances[person.email] = clearance
            table.add_row(person.email, PASSWORD, f"{person.citizen_id} {person.name}", clearance)
        self.console.print(table)
        return clearances

    async def _account(self, admin: Admin, person: Cast) -> None:
        try:
            citizen = await admin.create_citizen_account(
                email=person.email, password=PASSWORD, citizen_id=person.citizen_id, name=person.name,
                clearance=person.clearance, specialization=person.specialization)
            self.console.print(f"created {citizen.citizen_id} {citizen.name} "
                               f"with clearance {citizen.clearance_level.value}")
        except Conflict:
            self.console.print(f"{person.citizen_id} {person.name} exists already", style="dim")

    async def _self_registered(self, accounts: Accounts, person: Cast) -> None:
        try:
            await accounts.register(email=person.email, password=PASSWORD, citizen_id=person.citizen_id,
                                    name=person.name, specialization=person.specialization)
            self.console.print(f"{person.name} signed up through Auth; the sign-up trigger made citizen "
                               f"{person.citizen_id} (clearance infrared until granted)")
        except Conflict:
            self.console.print(f"{person.citizen_id} {person.name} exists already", style="dim")

    async def _wait_for_intervention(self, service, event_id: int, timeout: float = 10.0) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            rows = (await service.table("efficiency_events").select("*").eq("triggered_by", event_id).execute()).data
            if rows:
                return rows[0]
            await asyncio.sleep(0.05)
        raise HubError(f"no intervention for event {event_id} after {timeout:g}s: is Realtime enabled?")

    async def _isolation_table(self, service) -> dict[str, dict[str, object]]:
        table = Table(title="What each caller sees (RLS)", header_style="bold")
        table.add_column("caller")
        for column in ("citizens", "events", f"{ANALYST.citizen_id} metrics"):
            table.add_column(column, justify="right")
        seen: dict[str, dict[str, object]] = {}
        callers = [(p.name, await user_client(self.settings, self.tokens[p.key])) for p in (DIRECTOR, ANALYST, INTERN)]
        callers.append(("service role", service))
        for name, client in callers:
            tracker = Tracker(client)
            citizens = await tracker.citizens(limit=1000)
            events = await tracker.recent_events(limit=500)
            try:
                metrics = await tracker.metrics(ANALYST.citizen_id)
                metric = f"{metrics.optimization_score:g}" if metrics else "none"
            except NotFound:
                metric = "hidden"
            seen[name] = {"citizens": len(citizens), "events": len(events), "metrics": metric}
            table.add_row(name, str(len(citizens)), str(len(events)), metric)
        self.console.print(table)
        return seen


def run_demo(settings: HubSettings, console: Console | None = None) -> dict[str, object]:
    return asyncio.run(Demo(settings, console).run())
