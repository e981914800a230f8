"""/citizens: the citizens, events and metrics the caller may see (RLS decides)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from efficiency_hub.api.deps import TrackerDep
from efficiency_hub.api.schemas import OptimizeRequest
from efficiency_hub.errors import NotFound
from efficiency_hub.models import Citizen, CitizenId, Clearance, Event, Metrics, OptimizationResult, Trend

router = APIRouter(prefix="/citizens", tags=["citizens"])


@router.get("", response_model=list[Citizen])
async def list_citizens(tracker: TrackerDep, clearance: Clearance | None = None,
                        limit: int = Query(100, ge=1, le=1000)) -> list[Citizen]:
    return await tracker.citizens(clearance=clearance, limit=limit)


@router.get("/{citizen_id}", response_model=Citizen, responses={404: {"description": "not visible to you"}})
async def get_citizen(citizen_id: CitizenId, tracker: TrackerDep) -> Citizen:
    return await tracker.citizen(citizen_id)


@router.get("/{citizen_id}/events", response_model=list[Event])
async def citizen_events(citizen_id: CitizenId, tracker: TrackerDep,
                         limit: int = Query(20, ge=1, le=500)) -> list[Event]:
    return await tracker.events(citizen_id, limit)


@router.get("/{citizen_id}/metrics", response_model=Metrics)
async def citizen_metrics(citizen_id: CitizenId, tracker: TrackerDep) -> Metrics:
    metrics = await tracker.metrics(citizen_id)
    if metrics is None:
        raise NotFound(f"no metrics for {citizen_id} yet: run the optimizer first")
    return metrics


@router.get("/{citizen_id}/trend", response_model=Trend)
async def citizen_trend(citizen_id: CitizenId, tracker: TrackerDep, days: int = Query(7, ge=1, le=365)) -> Trend:
    return await tracker.trend(citizen_id, days)


@router.post("/{citizen_id}/optimize", response_model=OptimizationResult)
async def optimize(citizen_id: CitizenId, body: OptimizeRequest, tracker: TrackerDep) -> OptimizationResult:
    """Runs the efficiency-optimizer function as the caller; it upserts the citizen's metrics."""
    return await tracker.optimize(citizen_id, completion_time=body.completion_time,
                                  used_manual_config=body.used_manual_config,
                                  automation_level=body.automation_level)
