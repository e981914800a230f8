"""Operator tasks with the service role: accounts with a granted clearance, clearance changes and
the organizational hierarchy. Never used for a user's own requests."""

from __future__ import annotations

from efficiency_hub.errors import NotFound, translated
from efficiency_hub.models import Citizen, Clearance
from efficiency_hub.tracker import Tracker
from supabase import AsyncClient


class Admin:
    def __init__(self, service: AsyncClient):
        self.client = service
        self.tracker = Tracker(service)

    async def create_citizen_account(self, *, email: str, password: str, citizen_id: str, name: str,
                                     clearance: Clearance = Clearance.infrared, specialization: str | None = None,
                                     delegation_level: int = 1) -> Citizen:
        """A confirmed account whose citizen row (made by the sign-up trigger) holds `clearance`."""
        user_meta = {"citizen_id": citizen_id, "name": name}
        if specialization:
            user_meta["specialization"] = specialization
        with translated():
            await self.client.auth.admin.create_user({
                "email": email, "password": password, "email_confirm": True, "user_metadata": user_meta,
                "app_metadata": {"clearance_level": Clearance(clearance).value,
                                 "delegation_level": delegation_level}})
        return await self.tracker.citizen(citizen_id)

    async def set_clearance(self, citizen_id: str, clearance: Clearance) -> Citizen:
        with translated():
            rows = (await self.client.table("citizens").update({"clearance_level": Clearance(clearance).value})
                    .eq("citizen_id", citizen_id).execute()).data
        if not rows:
            raise NotFound(f"no citizen {citizen_id}")
        return Citizen.model_validate(rows[0])

    async def assign_supervisor(self, supervisor_citizen_id: str, subordinate_citizen_id: str) -> None:
        supervisor = await self.tracker.citizen(supervisor_citizen_id)
        subordinate = await self.tracker.citizen(subordinate_citizen_id)
        with translated():
            await self.client.table("organizational_hierarchy").upsert(
                {"supervisor_id": str(supervisor.id), "subordinate_id": str(subordinate.id)},
                on_conflict="supervisor_id,subordinate_id", ignore_duplicates=True).execute()
