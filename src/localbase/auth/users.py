"""auth.users and auth.identities: reading, creating and changing users, and the user JSON that
supabase_auth's `User` model parses."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg

from localbase.auth import errors

log = logging.getLogger("localbase.auth")

# The identities and factors are built as json, not jsonb (cheaper: text made once, no binary form in
# between); their keys are written in the order jsonb would give them (by length, then bytewise), the
# order the answers have always had.
USER_SELECT = """
select u.id, u.aud, u.role, u.email, u.encrypted_password, u.email_confirmed_at, u.invited_at,
       u.confirmation_sent_at, u.recovery_sent_at, u.email_change, u.email_change_sent_at,
       u.last_sign_in_at, u.raw_app_meta_data, u.raw_user_meta_data, u.created_at, u.updated_at,
       u.phone, u.phone_confirmed_at, u.confirmed_at, u.banned_until, u.deleted_at,
       u.is_anonymous, u.is_sso_user,
       coalesce((select json_agg(json_build_object(
                  'id', i.provider_id, 'email', i.email, 'user_id', i.user_id, 'provider', i.provider,
                  'created_at', i.created_at, 'updated_at', i.updated_at, 'identity_id', i.id,
                  'identity_data', i.identity_data, 'last_sign_in_at', i.last_sign_in_at)
                  order by i.created_at)
                 from auth.identities i where i.user_id = u.id), '[]'::json) as identities,
       (select json_agg(json_build_object(
                  'id', f.id, 'status', f.status, 'created_at', f.created_at, 'updated_at', f.updated_at,
                  'factor_type', f.factor_type, 'friendly_name', f.friendly_name)
                  order by f.created_at)
          from auth.mfa_factors f where f.user_id = u.id) as factors
from auth.users u
"""


def now() -> datetime:
    return datetime.now(UTC)


# GoTrue's check (checkmail.ValidateFormat): the local part's allowed characters, '@', DNS labels.
EMAIL_FORMAT = re.compile(r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
                          r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*")


def normalize_email(email: Any) -> str:
    if not isinstance(email, str) or len(email) > 255 or not EMAIL_FORMAT.fullmatch(email):
        raise errors.VALIDATION_FAILED("Unable to validate email address: invalid format")
    return email.lower()


async def by_id(conn: asyncpg.Connection, user_id: Any) -> dict[str, Any] | None:
    row = await conn.fetchrow(USER_SELECT + " where u.id = $1", _uuid(user_id))
    return dict(row) if row else None


async def by_email(conn: asyncpg.Connection, email: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(USER_SELECT + " where lower(u.email) = $1 and u.is_sso_user = false",
                              email.lower())
    return dict(row) if row else None


async def by_phone(conn: asyncpg.Connection, phone: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(USER_SELECT + " where u.phone = $1", phone)
    return dict(row) if row else None


def _uuid(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def is_banned(user: dict[str, Any]) -> bool:
    until = user.get("banned_until")
    return until is not None and until > now()


async def reload(conn: asyncpg.Connection, user_id: Any, gone: errors.Code = errors.USER_NOT_FOUND) -> dict[str, Any]:
    """The user as this transaction left it; `gone` when it was deleted meanwhile."""
    user = await by_id(conn, user_id)
    if user is None:
        raise gone()
    return user


def to_json(user: Mapping[str, Any]) -> dict[str, Any]:
    """GoTrue's user object (the fields supabase_auth.types.User reads), from a user as USER_SELECT
    reads it (a dict or the row itself)."""
    out: dict[str, Any] = {
        "id": user["id"],
        "aud": user.get("aud") or "authenticated",
        "role": user.get("role") or "authenticated",
        "email": user.get("email") or "",
        "email_confirmed_at": user.get("email_confirmed_at"),
        "phone": user.get("phone") or "",
        "phone_confirmed_at": user.get("phone_confirmed_at"),
        "confirmation_sent_at": user.get("confirmation_sent_at"),
        "recovery_sent_at": user.get("recovery_sent_at"),
        "email_change_sent_at": user.get("email_change_sent_at"),
        "new_email": user.get("email_change") or None,
        "invited_at": user.get("invited_at"),
        "confirmed_at": user.get("confirmed_at"),
        "last_sign_in_at": user.get("last_sign_in_at"),
        "app_metadata": user.get("raw_app_meta_data") or {},
        "user_metadata": user.get("raw_user_meta_data") or {},
        "identities": user.get("identities") or [],
        "created_at": user["created_at"],
        "updated_at": user.get("updated_at"),
        "is_anonymous": bool(user.get("is_anonymous")),
        "is_sso_user": bool(user.get("is_sso_user")),
    }
    if user.get("factors"):  # GoTrue leaves the key out when there are none
        out["factors"] = user["factors"]
    if user.get("banned_until") is not None:
        out["banned_until"] = user["banned_until"].isoformat()
    if user.get("deleted_at") is not None:
        out["deleted_at"] = user["deleted_at"].isoformat()
    return {k: v for k, v in out.items() if v is not None or k in ("email_confirmed_at", "last_sign_in_at")}


def app_metadata_for(provider: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"provider": provider, "providers": [provider]} if provider != "anonymous" else {}
    if extra:
        meta.update({k: v for k, v in extra.items() if k not in ("provider", "providers")})
    return meta


async def create(conn: asyncpg.Connection, *, email: str | None, phone: str | None = None,
                 encrypted_password: str | None, user_metadata: dict[str, Any] | None,
                 app_metadata: dict[str, Any] | None = None, email_confirmed: bool = False,
                 phone_confirmed: bool = False, role: str = "authenticated", is_anonymous: bool = False,
                 user_id: uuid.UUID | None = None, invited: bool = False) -> dict[str, Any]:
    """Insert the user and, for an email, its `email` identity. The caller holds a transaction.
    A unique violation on the email becomes GoTrue's `user_already_exists` / `email_exists`."""
    uid = user_id or uuid.uuid4()
    ts = now()
    provider = "email" if email else ("phone" if phone else "anonymous")
    try:
        await conn.execute(
            """insert into auth.users (instance_id, id, aud, role, email, encrypted_password,
                   email_confirmed_at, phone, phone_confirmed_at, raw_app_meta_data, raw_user_meta_data,
                   created_at, updated_at, is_anonymous, invited_at, is_super_admin)
               values ('00000000-0000-0000-0000-000000000000', $1, 'authenticated', $2, $3, $4, $5, $6,
                       $7, $8, $9, $10, $10, $11, $12, false)""",
            uid, role, email, encrypted_password or "", ts if email and email_confirmed else None,
            phone, ts if phone and phone_confirmed else None,
            app_metadata_for(provider, app_metadata), user_metadata or {}, ts, is_anonymous,
            ts if invited else None)
    except asyncpg.UniqueViolationError:
        raise (errors.USER_ALREADY_EXISTS if email else errors.PHONE_EXISTS)("User already registered") from None
    except asyncpg.PostgresError as exc:  # e.g. a sign-up trigger of the project failed
        log.error("saving a new user failed: %s: %s", type(exc).__name__, exc)
        raise errors.UNEXPECTED_FAILURE("Database error saving new user") from None
    if email:
        await add_identity(conn, uid, "email", email, email_confirmed, ts)
    if phone:
        await add_phone_identity(conn, uid, phone, phone_confirmed, ts)
    user = await by_id(conn, uid)
    assert user is not None
    return user


async def add_identity(conn: asyncpg.Connection, user_id: uuid.UUID, provider: str, email: str,
                       verified: bool, ts: datetime | None = None) -> None:
    ts = ts or now()
    data = {"sub": str(user_id), "email": email, "email_verified": verified, "phone_verified": False}
    await conn.execute(
        """insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at,
               created_at, updated_at) values ($1, $2, $3, $4, $5, $5, $5)
           on conflict (provider_id, provider) do update
             set identity_data = excluded.identity_data, updated_at = excluded.updated_at""",
        str(user_id), user_id, data, provider, ts)


async def add_phone_identity(conn: asyncpg.Connection, user_id: uuid.UUID, phone: str, verified: bool,
                             ts: datetime | None = None) -> None:
    ts = ts or now()
    data = {"sub": str(user_id), "phone": phone, "email_verified": False, "phone_verified": verified}
    await conn.execute(
        """insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at,
               created_at, updated_at) values ($1, $2, $3, 'phone', $4, $4, $4)
           on conflict (provider_id, provider) do update
             set identity_data = excluded.identity_data, updated_at = excluded.updated_at""",
        str(user_id), user_id, data, ts)


async def confirm_phone(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """The number is the user's (a code sent to it came back): confirmed, no longer anonymous."""
    await conn.execute(
        """update auth.users set phone_confirmed_at = coalesce(phone_confirmed_at, now()), confirmation_token = '',
               is_anonymous = false, updated_at = now() where id = $1""", user_id)
    await conn.execute(
        """update auth.identities set identity_data = identity_data || '{"phone_verified": true}'::jsonb,
               updated_at = now() where user_id = $1 and provider = 'phone'""", user_id)


async def set_phone(conn: asyncpg.Connection, user_id: uuid.UUID, phone: str) -> None:
    """A confirmed change of number (or one an admin makes): the new number, confirmed."""
    try:
        await conn.execute(
            """update auth.users set phone = $2, phone_confirmed_at = now(), phone_change = '',
                   phone_change_token = '', is_anonymous = false, updated_at = now(),
                   raw_app_meta_data = case when coalesce(raw_app_meta_data ->> 'provider', '') = ''
                       then coalesce(raw_app_meta_data, '{}'::jsonb)
                            || '{"provider": "phone", "providers": ["phone"]}'::jsonb
                       else raw_app_meta_data end
               where id = $1""", user_id, phone)
    except asyncpg.UniqueViolationError:
        raise errors.PHONE_EXISTS() from None
    await add_phone_identity(conn, user_id, phone, True)


async def confirm_email(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await conn.execute(
        """update auth.users set email_confirmed_at = coalesce(email_confirmed_at, now()),
               confirmation_token = '', updated_at = now() where id = $1""", user_id)
    await conn.execute(
        """update auth.identities set identity_data = identity_data || '{"email_verified": true}'::jsonb,
               updated_at = now() where user_id = $1 and provider = 'email'""", user_id)


async def set_email(conn: asyncpg.Connection, user_id: uuid.UUID, email: str, confirmed: bool) -> None:
    try:
        await conn.execute(
            """update auth.users set email = $2, email_confirmed_at = case when $3 then now() else null end,
                   email_change = '', email_change_token_new = '', email_change_token_current = '',
                   email_change_confirm_status = 0, is_anonymous = false, updated_at = now(),
                   raw_app_meta_data = case when coalesce(raw_app_meta_data ->> 'provider', '') = ''
                       then coalesce(raw_app_meta_data, '{}'::jsonb)
                            || '{"provider": "email", "providers": ["email"]}'::jsonb
                       else raw_app_meta_data end
               where id = $1""", user_id, email, confirmed)
    except asyncpg.UniqueViolationError:
        raise errors.EMAIL_EXISTS() from None
    await add_identity(conn, user_id, "email", email, confirmed)


async def set_password(conn: asyncpg.Connection, user_id: uuid.UUID, encrypted: str) -> None:
    await conn.execute("update auth.users set encrypted_password = $2, updated_at = now() where id = $1",
                       user_id, encrypted)


async def merge_user_metadata(conn: asyncpg.Connection, user_id: uuid.UUID, data: dict[str, Any]) -> None:
    """GoTrue merges `data` into raw_user_meta_data; a key set to null is removed."""
    removed = [k for k, v in data.items() if v is None]
    kept = {k: v for k, v in data.items() if v is not None}
    await conn.execute(
        """update auth.users set raw_user_meta_data = (coalesce(raw_user_meta_data, '{}'::jsonb) || $2) - $3::text[],
               updated_at = now() where id = $1""", user_id, kept, removed)
