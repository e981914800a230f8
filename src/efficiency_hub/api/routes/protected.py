"""/protected: data gated by clearance (infrared holds none)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from efficiency_hub.api.deps import TrackerDep
from efficiency_hub.api.schemas import EfficiencyData
from efficiency_hub.errors import PermissionDenied
from efficiency_hub.models import Clearance

router = APIRouter(prefix="/protected", tags=["protected"])

MINIMUM = Clearance.red


@router.get("/efficiency-data", response_model=EfficiencyData,
            responses={403: {"description": "clearance infrared"}})
async def efficiency_data(tracker: TrackerDep) -> EfficiencyData:
    me = await tracker.me()
    if not me.clearance_level.at_least(MINIMUM):
        raise PermissionDenied(f"clearance {me.clearance_level.value} may not read efficiency data "
                               f"(needs {MINIMUM.value} or above)", code="insufficient_clearance")
    events, metrics, trend = await asyncio.gather(tracker.events(me, 10), tracker.metrics(me), tracker.trend(me))
    return EfficiencyData(citizen_id=me.citizen_id, name=me.name, clearance_level=me.clearance_level,
                          efficiency_score=me.efficiency_score, recent_events=events, metrics=metrics, trend=trend)
