"""/workspaces: multi-tenant workspaces (owners, and members at the required clearance)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, status

from efficiency_hub.api.deps import WorkspacesDep
from efficiency_hub.api.schemas import MemberAdd, MemberOut, WorkspaceCreate
from efficiency_hub.models import Workspace

router = APIRouter(prefix="/workspaces", tags=["workspaces"])


def _member(member) -> MemberOut:
    return MemberOut(workspace_id=member.workspace_id, citizen_uuid=member.citizen_id, role=member.role,
                     joined_at=member.joined_at.isoformat())


@router.get("", response_model=list[Workspace])
async def list_workspaces(spaces: WorkspacesDep) -> list[Workspace]:
    return await spaces.list()


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Workspace,
             responses={403: {"description": "requirement above your clearance"}})
async def create_workspace(body: WorkspaceCreate, spaces: WorkspacesDep) -> Workspace:
    return await spaces.create(body.name, body.clearance_requirement, body.description)


@router.get("/{workspace_id}", response_model=Workspace, responses={404: {"description": "not visible to you"}})
async def get_workspace(workspace_id: UUID, spaces: WorkspacesDep) -> Workspace:
    return await spaces.get(str(workspace_id))


@router.get("/{workspace_id}/members", response_model=list[MemberOut])
async def list_members(workspace_id: UUID, spaces: WorkspacesDep) -> list[MemberOut]:
    return [_member(m) for m, _ in await spaces.members(str(workspace_id))]


@router.post("/{workspace_id}/members", status_code=status.HTTP_201_CREATED, response_model=MemberOut,
             responses={403: {"description": "not the owner, or the member's clearance is too low"},
                        404: {"description": "no such citizen"}, 409: {"description": "already a member"}})
async def add_member(workspace_id: UUID, body: MemberAdd, spaces: WorkspacesDep) -> MemberOut:
    return _member(await spaces.add_member(str(workspace_id), body.citizen_id))
