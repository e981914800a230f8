"""The hub's data, as the database keeps it (pydantic models, shared by the tracker and the API)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

CitizenId = Annotated[str, StringConstraints(pattern=r"^EFF-[0-9]{4}-[0-9]{3,}$"),
                      Field(examples=["EFF-2025-001"], description="public citizen id: EFF-<year>-<number>")]
EventType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$"),
                      Field(examples=["task_completed"], description="snake_case, at most 64 characters")]

INTERVENTION = "automated_intervention"


class Clearance(StrEnum):
    """The clearance ladder, lowest to highest."""

    infrared = "infrared"
    red = "red"
    orange = "orange"
    yellow = "yellow"
    green = "green"
    blue = "blue"
    indigo = "indigo"
    violet = "violet"
    ultraviolet = "ultraviolet"

    @property
    def rank(self) -> int:
        return list(Clearance).index(self)

    def at_least(self, other: Clearance | str) -> bool:
        return self.rank >= Clearance(other).rank


class Recorder(StrEnum):
    """Who recorded an event, as the database saw the inserting role (public.event_recorder)."""

    self_ = "self"
    supervisor = "supervisor"
    monitor = "monitor"
    service = "service"


class Row(BaseModel):
    model_config = ConfigDict(extra="ignore")


class EventKind(Row):
    """A row of the event catalogue (public.event_types), which the database enforces on every insert."""

    event_type: str
    description: str
    min_delta: float
    max_delta: float
    recorded_by: list[Recorder]
    self_daily_gain: float | None = Field(default=None, description="most points a day a citizen may add to "
                                                                     "their own score with this type")


class Citizen(Row):
    id: UUID
    user_id: UUID | None = None
    citizen_id: str
    name: str
    email: str | None = None
    clearance_level: Clearance
    efficiency_score: float
    specialization: str | None = None
    delegation_level: int
    created_at: datetime
    updated_at: datetime


class Event(Row):
    id: int
    citizen_id: UUID
    event_type: str
    efficiency_delta: float
    details: dict[str, Any] = {}
    score_after: float | None = None
    triggered_by: int | None = None
    recorded_by: Recorder | None = None  # set by the database; None for events older than the catalogue
    created_at: datetime


class Metrics(Row):
    citizen_id: UUID
    optimization_score: float
    delegation_efficiency: str
    completion_time: float | None = None
    automation_level: float | None = None
    used_manual_config: bool | None = None
    processed_at: datetime
    processed_by: UUID | None = None


class Trend(Row):
    events_recent: int
    delta_recent: float
    delta_previous: float
    direction: str
    days: int = 7


class Workspace(Row):
    workspace_id: UUID
    name: str
    owner_id: UUID
    clearance_requirement: Clearance
    description: str | None = None
    created_at: datetime


class WorkspaceMember(Row):
    workspace_id: UUID
    citizen_id: UUID
    role: str
    joined_at: datetime


class Session(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int
    expires_at: int | None = None
    user_id: UUID
    email: str | None = None


class OptimizationResult(Metrics):
    """What the optimizer answers: the metrics row, keyed by the public citizen id."""

    citizen_id: str  # type: ignore[assignment]  # the public id here, the row's uuid in Metrics
    citizen_uuid: UUID
