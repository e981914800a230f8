"""Multi-tenant workspaces: a workspace is seen by its owner and by members who hold at least the
clearance it requires (RLS decides); owners add members by their public citizen id."""

from __future__ import annotations

import builtins

from efficiency_hub import clients
from efficiency_hub.clients import Client
from efficiency_hub.errors import BackendError, NotFound, translated
from efficiency_hub.models import Clearance, Workspace, WorkspaceMember


class Workspaces:
    def __init__(self, client: Client):
        self.client = client

    async def create(self, name: str, clearance_requirement: Clearance = Clearance.infrared,
                     description: str | None = None) -> Workspace:
        with translated():
            me = (await self.client.rpc("current_citizen_id").execute()).data
            if not me:
                raise NotFound("this account has no citizen profile")
            rows = (await self.client.table("efficiency_workspaces").insert(
                {"name": name, "owner_id": me, "description": description,
                 "clearance_requirement": Clearance(clearance_requirement).value}).execute()).data
        if not rows:
            raise BackendError("the workspace was created but not returned")
        return Workspace.model_validate(rows[0])

    async def list(self) -> list[Workspace]:
        with translated():
            rows = (await self.client.table("efficiency_workspaces").select("*").order("created_at").execute()).data
        return [Workspace.model_validate(row) for row in rows]

    async def get(self, workspace_id: str) -> Workspace:
        with translated():
            rows = (await self.client.table("efficiency_workspaces").select("*")
                    .eq("workspace_id", workspace_id).limit(1).execute()).data
        if not rows:
            raise NotFound(f"no workspace {workspace_id} visible to you")
        return Workspace.model_validate(rows[0])

    async def members(self, workspace_id: str) -> builtins.list[tuple[WorkspaceMember, str]]:
        """Members with their public citizen ids (the caller sees names only of citizens RLS shows)."""
        await self.get(workspace_id)
        with translated():
            rows = clients.rows((await self.client.table("workspace_members").select("*")
                                 .eq("workspace_id", workspace_id).order("joined_at").execute()).data)
        return [(WorkspaceMember.model_validate(row), str(row["citizen_id"])) for row in rows]

    async def add_member(self, workspace_id: str, citizen_id: str) -> WorkspaceMember:
        with translated():
            row = (await self.client.rpc("add_workspace_member",
                                         {"p_workspace": workspace_id, "p_citizen_id": citizen_id}).execute()).data
        if not row:
            raise BackendError("the member was added but not returned")
        return WorkspaceMember.model_validate(row[0] if isinstance(row, list) else row)
