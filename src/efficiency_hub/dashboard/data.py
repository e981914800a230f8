"""What the dashboard shows, read through a supabase client that carries the viewer's JWT (or the
service role, for an operator), so row-level security decides every row. The queries are the
hub's own (Tracker, Workspaces, Accounts); this module only runs them from Streamlit's synchronous
script threads and turns their answers into tables.

No Streamlit here: app.py caches the Runner and keeps the client in the session."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Coroutine, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pandas as pd

from efficiency_hub.clients import service_client, user_client
from efficiency_hub.errors import BackendError
from efficiency_hub.evidence import Evidence, EvidenceFile
from efficiency_hub.models import INTERVENTION, Citizen, Clearance, Event, Metrics, Workspace
from efficiency_hub.settings import HubSettings
from efficiency_hub.tracker import Tracker
from efficiency_hub.workspaces import Workspaces
from supabase import AsyncClient

T = TypeVar("T")

CITIZEN_LIMIT = 1000
EVENT_LIMIT = 200


class Runner:
    """One asyncio loop on a daemon thread, for the whole dashboard process. Streamlit runs each
    session's script on a thread of its own, without a loop; the hub's clients are async. Every
    call runs here, so the clients and the one pooled HTTP client they share stay on one loop."""

    def __init__(self, timeout: float = 30.0):
        self.timeout = timeout
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="hub-dashboard-loop", daemon=True)
        self._thread.start()
        self.http: httpx.AsyncClient = self.run(_pooled_http())

    def run(self, work: Coroutine[Any, Any, T] | Awaitable[T], timeout: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(_awaited(work), self.loop)
        try:
            return future.result(self.timeout if timeout is None else timeout)
        except FutureTimeout:
            future.cancel()
            raise BackendError(f"the backend did not answer within {self.timeout:g}s") from None

    def close(self) -> None:
        self.run(self.http.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


async def _awaited(work: Awaitable[T]) -> T:
    return await work


async def _pooled_http() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=5.0),
                             limits=httpx.Limits(max_connections=50, max_keepalive_connections=20))


async def client_for(settings: HubSettings, runner: Runner, access_token: str | None) -> AsyncClient:
    """The viewer's client: their JWT (RLS decides), or the service role when `access_token` is None
    (an operator; app.py offers that only when the service-role key is configured)."""
    if access_token is None:
        return await service_client(settings, runner.http)
    return await user_client(settings, access_token, runner.http)


# -- filters -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filters:
    """What the viewer narrowed the page to (display only: what they may see is RLS's business)."""

    clearances: tuple[Clearance, ...] = ()
    citizen_ids: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.clearances or self.citizen_ids)

    def keeps(self, citizen: Citizen) -> bool:
        return ((not self.clearances or citizen.clearance_level in self.clearances)
                and (not self.citizen_ids or citizen.citizen_id in self.citizen_ids))

    def apply(self, citizens: Sequence[Citizen]) -> list[Citizen]:
        return [citizen for citizen in citizens if self.keeps(citizen)]


# -- one refresh -------------------------------------------------------------------------------
@dataclass
class Snapshot:
    citizens: list[Citizen]                 # those the filters keep
    events: list[tuple[Event, str]]         # newest first, with the citizen's public id
    metrics: list[tuple[Metrics, str]]
    workspaces: list[Workspace]
    owners: dict[str, str] = field(default_factory=dict)  # citizen uuid -> public id, where visible
    taken_at: datetime = field(default_factory=lambda: datetime.now(UTC))


async def visible_citizens(client: AsyncClient) -> list[Citizen]:
    return await Tracker(client).citizens(limit=CITIZEN_LIMIT)


async def snapshot(client: AsyncClient, filters: Filters, event_limit: int = EVENT_LIMIT) -> Snapshot:
    """Everything the page shows, as the client's role sees it, narrowed by `filters`."""
    tracker, spaces = Tracker(client), Workspaces(client)
    everyone, metrics, workspaces = await asyncio.gather(
        tracker.citizens(limit=CITIZEN_LIMIT), tracker.all_metrics(), spaces.list())
    kept = filters.apply(everyone)
    events = await tracker.recent_events(event_limit, citizens=kept if filters.active else None)
    if filters.active:
        wanted = {citizen.citizen_id for citizen in kept}
        metrics = [(row, public_id) for row, public_id in metrics if public_id in wanted]
    return Snapshot(kept, events, metrics, workspaces, {str(c.id): c.citizen_id for c in everyone})


# -- tables ------------------------------------------------------------------------------------
CITIZEN_COLUMNS = ["citizen_id", "name", "clearance", "score", "specialization", "delegation", "updated"]
EVENT_COLUMNS = ["id", "time", "citizen_id", "event_type", "delta", "score_after", "intervention", "triggered_by"]
METRIC_COLUMNS = ["citizen_id", "optimization_score", "delegation_efficiency", "completion_time",
                  "automation_level", "manual_config", "processed_at"]
WORKSPACE_COLUMNS = ["name", "clearance_requirement", "owner", "description", "created"]
EVIDENCE_COLUMNS = ["name", "type", "size", "uploaded", "link"]


def citizens_frame(citizens: Sequence[Citizen]) -> pd.DataFrame:
    rows = [{"citizen_id": c.citizen_id, "name": c.name, "clearance": c.clearance_level.value,
             "score": float(c.efficiency_score), "specialization": c.specialization or "",
             "delegation": c.delegation_level, "updated": c.updated_at} for c in citizens]
    return pd.DataFrame(rows, columns=CITIZEN_COLUMNS)


def events_frame(events: Sequence[tuple[Event, str]]) -> pd.DataFrame:
    rows = [{"id": e.id, "time": e.created_at, "citizen_id": who, "event_type": e.event_type,
             "delta": float(e.efficiency_delta),
             "score_after": None if e.score_after is None else float(e.score_after),
             "intervention": e.event_type == INTERVENTION, "triggered_by": e.triggered_by}
            for e, who in events]
    frame = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    return frame.astype({"triggered_by": "Int64"})


def metrics_frame(metrics: Sequence[tuple[Metrics, str]]) -> pd.DataFrame:
    rows = [{"citizen_id": who, "optimization_score": float(m.optimization_score),
             "delegation_efficiency": m.delegation_efficiency, "completion_time": m.completion_time,
             "automation_level": m.automation_level, "manual_config": m.used_manual_config,
             "processed_at": m.processed_at} for m, who in metrics]
    return pd.DataFrame(rows, columns=METRIC_COLUMNS).sort_values("citizen_id", ignore_index=True)


def workspaces_frame(workspaces: Sequence[Workspace], owners: dict[str, str]) -> pd.DataFrame:
    rows = [{"name": w.name, "clearance_requirement": w.clearance_requirement.value,
             "owner": owners.get(str(w.owner_id), str(w.owner_id)[:8]), "description": w.description or "",
             "created": w.created_at} for w in workspaces]
    return pd.DataFrame(rows, columns=WORKSPACE_COLUMNS)


# -- evidence ----------------------------------------------------------------------------------
async def evidence_choices(client: AsyncClient, limit: int = 50) -> dict[int, str]:
    """The latest events the viewer can see, as {event id: label}, newest first."""
    return {event.id: f"#{event.id} · {who} · {event.event_type} · {event.created_at:%Y-%m-%d %H:%M}"
            for event, who in await Tracker(client).recent_events(limit)}


async def evidence_files(client: AsyncClient, event_id: int) -> list[EvidenceFile]:
    return await Evidence(client).files(event_id)


async def attach_evidence(client: AsyncClient, event_id: int, name: str, content: bytes,
                          content_type: str) -> EvidenceFile:
    return await Evidence(client).attach(event_id, name, content, content_type)


def evidence_frame(files: Sequence[EvidenceFile]) -> pd.DataFrame:
    rows = [{"name": f.name, "type": f.content_type, "size": f.size, "uploaded": f.created_at, "link": f.url}
            for f in files]
    return pd.DataFrame(rows, columns=EVIDENCE_COLUMNS)
