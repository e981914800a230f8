"""Accounts through Supabase Auth: register (the sign-up trigger creates the citizen), sign in,
refresh, sign out, profile.

Every call uses a client of its own: supabase-py keeps the session it signs in with and sends
that user's token afterwards, so an auth client must never be shared between users."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from efficiency_hub.clients import anon_client
from efficiency_hub.errors import AuthenticationFailed, BackendError, Conflict, translated
from efficiency_hub.models import Session
from efficiency_hub.settings import HubSettings
from supabase import AsyncClient


@dataclass
class Registration:
    user_id: str
    email: str
    session: Session | None  # None when the project asks users to confirm their email first

    @property
    def confirmation_required(self) -> bool:
        return self.session is None


def _session(raw: Any) -> Session:
    if raw is None:
        raise AuthenticationFailed("no session was issued")
    return Session(access_token=raw.access_token, refresh_token=raw.refresh_token,
                   token_type=raw.token_type or "bearer", expires_in=raw.expires_in,
                   expires_at=raw.expires_at, user_id=raw.user.id, email=raw.user.email)


class Accounts:
    def __init__(self, settings: HubSettings, http: httpx.AsyncClient | None = None):
        self.settings = settings
        self.http = http

    async def _client(self) -> AsyncClient:
        return await anon_client(self.settings, self.http)

    async def register(self, *, email: str, password: str, citizen_id: str, name: str,
                       specialization: str | None = None) -> Registration:
        client = await self._client()
        with translated():
            taken = await client.rpc("citizen_id_taken", {"p_citizen_id": citizen_id}).execute()
            if taken.data is True:
                raise Conflict(f"citizen id {citizen_id} is already registered", code="citizen_id_taken")
            metadata = {"citizen_id": citizen_id, "name": name}
            if specialization:
                metadata["specialization"] = specialization
            answer = await client.auth.sign_up(
                {"email": email, "password": password, "options": {"data": metadata}})
        if answer.user is None:
            raise BackendError("sign-up returned no user")
        # With email confirmation on, Supabase answers an existing address with an unconfirmed
        # look-alike user (no identities) rather than an error, so as not to reveal who has an account.
        if answer.session is None and answer.user.identities == []:
            raise Conflict("a user with this email address is already registered", code="user_already_exists")
        return Registration(user_id=answer.user.id, email=answer.user.email or email,
                            session=_session(answer.session) if answer.session else None)

    async def sign_in(self, email: str, password: str) -> Session:
        client = await self._client()
        with translated():
            answer = await client.auth.sign_in_with_password({"email": email, "password": password})
        return _session(answer.session)

    async def refresh(self, refresh_token: str) -> Session:
        client = await self._client()
        with translated():
            answer = await client.auth.refresh_session(refresh_token)
        return _session(answer.session)

    async def sign_out(self, access_token: str, scope: str = "local") -> None:
        """Ends the session behind `access_token` (its refresh token stops working)."""
        client = await self._client()
        with translated():
            await client.auth.admin.sign_out(access_token, scope)  # type: ignore[arg-type]

    async def user(self, access_token: str) -> dict[str, Any]:
        """The Auth user behind `access_token` (checked by Auth: a revoked or expired token fails)."""
        client = await self._client()
        with translated():
            answer = await client.auth.get_user(access_token)
        if answer is None or answer.user is None:
            raise AuthenticationFailed("the token does not belong to a user")
        return answer.user.model_dump(mode="json")
