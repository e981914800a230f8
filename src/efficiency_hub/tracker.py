"""Citizens, their efficiency events and metrics, through a supabase client: as a signed-in user
(RLS shows their own rows and their subordinates') or as the service role (all rows)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from efficiency_hub import catalogue, clients
from efficiency_hub.catalogue import Catalogue
from efficiency_hub.clients import Client
from efficiency_hub.errors import BackendError, NotFound, translated
from efficiency_hub.models import Citizen, Clearance, Event, Metrics, OptimizationResult, Trend

OPTIMIZER = "efficiency-optimizer"


CitizenRef = str | Citizen  # a public citizen id, or a citizen already read


class Tracker:
    def __init__(self, client: Client):
        self.client = client

    async def _resolve(self, citizen: CitizenRef) -> Citizen:
        return citizen if isinstance(citizen, Citizen) else await self.citizen(citizen)

    # -- citizens ------------------------------------------------------------------------------
    async def citizen(self, citizen_id: str) -> Citizen:
        """The citizen with this public id, if the caller may see them (else NotFound)."""
        with translated():
            rows = (await self.client.table("citizens").select("*").eq("citizen_id", citizen_id)
                    .limit(1).execute()).data
        if not rows:
            raise NotFound(f"no citizen {citizen_id} visible to you")
        return Citizen.model_validate(rows[0])

    async def me(self) -> Citizen:
        """The caller's own citizen (their JWT's user)."""
        with translated():
            own = (await self.client.rpc("current_citizen_id").execute()).data
            rows = (await self.client.table("citizens").select("*").eq("id", own).limit(1).execute()).data \
                if own else []
        if not rows:
            raise NotFound("this account has no citizen profile")
        return Citizen.model_validate(rows[0])

    async def citizens(self, *, clearance: Clearance | None = None, limit: int = 100) -> list[Citizen]:
        with translated():
            query = self.client.table("citizens").select("*").order("citizen_id").limit(limit)
            if clearance is not None:
                query = query.eq("clearance_level", Clearance(clearance).value)
            rows = (await query.execute()).data
        return [Citizen.model_validate(row) for row in rows]

    # -- events --------------------------------------------------------------------------------
    async def event_types(self) -> Catalogue:
        """The event catalogue: the types, their delta ranges and who may record them."""
        return await catalogue.load(self.client)

    async def record_event(self, citizen_id: CitizenRef, event_type: str, efficiency_delta: float = 0,
                           details: dict[str, Any] | None = None) -> Event:
        """Records an event; the database checks it against the event catalogue (type, delta range,
        who may record it) and moves the citizen's score in the same transaction."""
        citizen = await self._resolve(citizen_id)
        row = {"citizen_id": str(citizen.id), "event_type": event_type,
               "efficiency_delta": efficiency_delta, "details": details or {}}
        with translated():
            rows = (await self.client.table("efficiency_events").insert(row).execute()).data
        if not rows:
            raise BackendError("the event was recorded but not returned")
        return Event.model_validate(rows[0])

    async def events(self, citizen_id: CitizenRef, limit: int = 20) -> list[Event]:
        citizen = await self._resolve(citizen_id)
        with translated():
            rows = (await self.client.table("efficiency_events").select("*").eq("citizen_id", str(citizen.id))
                    .order("created_at", desc=True).order("id", desc=True).limit(limit).execute()).data
        return [Event.model_validate(row) for row in rows]

    async def recent_events(self, limit: int = 50, *,
                            citizens: Collection[Citizen] | None = None) -> list[tuple[Event, str]]:
        """The latest events the caller may see, each with its citizen's public id; only those of
        `citizens` when given."""
        if citizens is not None and not citizens:
            return []
        with translated():
            query = self.client.table("efficiency_events").select("*, citizen:citizens(citizen_id)")
            if citizens is not None:
                query = query.in_("citizen_id", sorted({str(citizen.id) for citizen in citizens}))
            rows = clients.rows((await query.order("id", desc=True).limit(limit).execute()).data)
        return [(Event.model_validate(row), row["citizen"]["citizen_id"]) for row in rows]

    # -- metrics -------------------------------------------------------------------------------
    async def metrics(self, citizen_id: CitizenRef) -> Metrics | None:
        citizen = await self._resolve(citizen_id)
        with translated():
            rows = (await self.client.table("efficiency_metrics").select("*")
                    .eq("citizen_id", str(citizen.id)).limit(1).execute()).data
        return Metrics.model_validate(rows[0]) if rows else None

    async def all_metrics(self, limit: int = 1000) -> list[tuple[Metrics, str]]:
        """Every metrics row the caller may see, each with its citizen's public id."""
        with translated():
            rows = clients.rows((await self.client.table("efficiency_metrics").select("*, citizen:citizens(citizen_id)")
                                 .order("processed_at", desc=True).limit(limit).execute()).data)
        return [(Metrics.model_validate(row), row["citizen"]["citizen_id"]) for row in rows]

    async def trend(self, citizen_id: CitizenRef, days: int = 7) -> Trend:
        citizen = await self._resolve(citizen_id)
        with translated():
            rows = clients.rows((await self.client.rpc("efficiency_trend", {"p_citizen": str(citizen.id),
                                                                            "p_days": days}).execute()).data)
        if not rows:
            raise BackendError("efficiency_trend returned nothing")
        return Trend.model_validate({**rows[0], "days": days})

    async def optimize(self, citizen_id: str, *, completion_time: float | None = None,
                       used_manual_config: bool = False, automation_level: float = 1.0) -> OptimizationResult:
        """Runs the efficiency-optimizer function as the caller; it upserts the metrics row."""
        task: dict[str, Any] = {"used_manual_config": used_manual_config, "automation_level": automation_level}
        if completion_time is not None:
            task["completion_time"] = completion_time
        with translated():
            answer = await self.client.functions.invoke(
                OPTIMIZER, {"body": {"citizen_id": citizen_id, "task_data": task}, "responseType": "json"})
        if not isinstance(answer, dict):
            raise BackendError(f"{OPTIMIZER} answered {answer!r}")
        return OptimizationResult.model_validate(answer)
