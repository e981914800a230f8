"""Operator tasks with the service role: accounts with a granted clearance, clearance changes and
the organizational hierarchy. Never used for a user's own requests."""

from __future__ import annotations

from efficiency_hub.errors import NotFound, translated
from efficiency_hub.models import Citizen, Clearance
from efficiency_hub.tracker import Tracker
from supabase import AsyncClient

USERS_PAGE = 1000


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
        return await self._set_clearance("citizen_id", citizen_id, clearance, f"no citizen {citizen_id}")

    async def grant_clearance(self, email: str, clearance: Clearance) -> Citizen:
        """The clearance of the citizen signed up with `email` (the Auth user's address, which only
        Auth changes, unlike the citizen row's copy)."""
        user_id = await self.user_id(email)
        return await self._set_clearance("user_id", user_id, clearance,
                                         f"{email} has no citizen (signed up without a citizen id)")

    async def user_id(self, email: str) -> str:
        wanted = email.strip().lower()
        page = 1
        while True:
            with translated():
                users = await self.client.auth.admin.list_users(page=page, per_page=USERS_PAGE)
            for user in users:
                if (user.email or "").lower() == wanted:
                    return user.id
            if len(users) < USERS_PAGE:
                raise NotFound(f"no user with the email address {email}", code="user_not_found")
            page += 1

    async def _set_clearance(self, column: str, value: str, clearance: Clearance, missing: str) -> Citizen:
        with translated():
            rows = (await self.client.table("citizens").update({"clearance_level": Clearance(clearance).value})
                    .eq(column, value).execute()).data
        if not rows:
            raise NotFound(missing)
        return Citizen.model_validate(rows[0])

    async def assign_supervisor(self, supervisor_citizen_id: str, subordinate_citizen_id: str) -> None:
        supervisor = await self.tracker.citizen(supervisor_citizen_id)
        subordinate = await self.tracker.citizen(subordinate_citizen_id)
        with translated():
            await self.client.table("organizational_hierarchy").upsert(
                {"supervisor_id": str(supervisor.id), "subordinate_id": str(subordinate.id)},
                on_conflict="supervisor_id,subordinate_id", ignore_duplicates=True).execute()
