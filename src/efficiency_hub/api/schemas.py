"""Request and response bodies of the API (pydantic; they document themselves at /docs)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from efficiency_hub.models import Citizen, CitizenId, Clearance, Event, EventType, Metrics, Session, Trend


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterRequest(Body):
    email: EmailStr
    password: str = Field(min_length=1, max_length=72, description="checked against the project's password policy")
    citizen_id: CitizenId
    name: str = Field(min_length=1, max_length=200)
    specialization: str | None = Field(default=None, max_length=200)


class RegisterResponse(BaseModel):
    user_id: UUID
    email: str
    citizen_id: str
    confirmation_required: bool
    session: Session | None = None


class LoginRequest(Body):
    email: EmailStr
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(Body):
    refresh_token: str = Field(min_length=1, max_length=1024)


class Profile(BaseModel):
    user_id: UUID
    email: str | None
    last_sign_in_at: str | None = None
    citizen: Citizen | None


class EventCreate(Body):
    citizen_id: CitizenId | None = Field(default=None, description="defaults to the caller's own citizen")
    event_type: EventType
    efficiency_delta: float = Field(ge=-100, le=100, default=0)
    details: dict[str, Any] = Field(default_factory=dict)


class EventOut(Event):
    citizen: str = Field(description="the citizen's public id")


class OptimizeRequest(Body):
    completion_time: float | None = Field(default=None, gt=0, description="seconds the task took")
    used_manual_config: bool = False
    automation_level: float = Field(default=1.0, gt=0, le=10)


class EfficiencyData(BaseModel):
    citizen_id: str
    name: str
    clearance_level: Clearance
    efficiency_score: float
    recent_events: list[Event]
    metrics: Metrics | None
    trend: Trend


class WorkspaceCreate(Body):
    name: str = Field(min_length=1, max_length=200)
    clearance_requirement: Clearance = Clearance.infrared
    description: str | None = Field(default=None, max_length=2000)


class MemberAdd(Body):
    citizen_id: CitizenId


class MemberOut(BaseModel):
    workspace_id: UUID
    citizen_uuid: UUID
    role: str
    joined_at: str


class ErrorOut(BaseModel):
    detail: str
    code: str | None = None
    hint: str | None = None
