"""Who Studio acts as when it "runs as" someone: anon, a chosen user or the service role.

Each is a token exactly as a client would present it (the anon key, the service_role key, or an
access token for the user with the claims the auth service would sign after a password sign-in,
through the custom access token hook when one is configured), turned into the caller's role and
claims by REST's own `execute.caller_from`. So SQL run here, and realtime joined here, see what an
app's request with that token sees: there is no second way of deciding a caller's rights."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import asyncpg

from localbase.rest import execute
from localbase.security import jwt
from localbase.settings import Settings

ROLES = ("postgres", "service_role", "anon", "user")  # postgres: the database owner (no role switch)


class UnknownUser(LookupError):
    pass


@dataclass(frozen=True)
class Identity:
    """Who to act as: `role` one of ROLES; `user_id` for "user"."""

    role: str = "postgres"
    user_id: str = ""

    @classmethod
    def parse(cls, role: str | None, user_id: str | None) -> Identity:
        role = role or "postgres"
        if role not in ROLES:
            raise ValueError(f"run as one of {', '.join(ROLES)}, not {role!r}")
        if role == "user":
            try:
                user_id = str(uuid.UUID(str(user_id or "").strip()))
            except ValueError:
                raise ValueError("choose a user (their id) to run as") from None
        return cls(role, user_id or "" if role == "user" else "")

    @property
    def label(self) -> str:
        return f"user {self.user_id}" if self.role == "user" else self.role


async def user_token(settings: Settings, auth_pool: asyncpg.Pool, user_id: str) -> str:
    """An access token for the user, as the auth service signs one after a password sign-in (aal1,
    a fresh session id that no session row holds)."""
    from localbase.auth import hooks, tokens, users
    from localbase.auth.config import load_auth_config
    config = load_auth_config(settings)
    async with auth_pool.acquire() as conn:
        user = await users.by_id(conn, user_id)
        if user is None:
            raise UnknownUser(f"no user with id {user_id}")
        amr = [{"method": "password", "timestamp": int(time.time())}]
        claims = tokens.access_claims(config, user, str(uuid.uuid4()), amr)
        claims = await hooks.custom_claims(conn, config, claims, "password")
    return jwt.sign(claims, config.keys)  # as auth.sessions signs a session's access token


async def token_for(identity: Identity, settings: Settings, auth_pool: asyncpg.Pool) -> str | None:
    """The bearer token a client acting as `identity` sends (None: the database owner, no token)."""
    if identity.role == "postgres":
        return None
    if identity.role == "anon":
        return settings.anon_key
    if identity.role == "service_role":
        return settings.service_role_key
    return await user_token(settings, auth_pool, identity.user_id)


async def caller_for(identity: Identity, settings: Settings, auth_pool: asyncpg.Pool) -> execute.Caller | None:
    """REST's Caller (role + claims) for `identity`; None for the database owner."""
    token = await token_for(identity, settings, auth_pool)
    return None if token is None else caller_of(token, settings)


def caller_of(token: str, settings: Settings) -> execute.Caller:
    """The role and claims REST takes from `Authorization: Bearer <token>` (REST's own stage)."""
    return execute.caller_from("Bearer " + token, settings.keyring)


async def resolve_user(auth_pool: asyncpg.Pool, text: str) -> str:
    """A user's id from their id or email address."""
    from localbase.auth import users
    text = text.strip()
    try:
        return str(uuid.UUID(text))
    except ValueError:
        pass
    async with auth_pool.acquire() as conn:
        user = await users.by_email(conn, text.lower())
    if user is None:
        raise UnknownUser(f"no user with email {text!r}")
    return str(user["id"])
