"""The admin API for a user's MFA factors, as GoTrue answers it (supabase `auth.admin.mfa.*`):

- GET /admin/users/{user_id}/factors: the user's factors, verified or not;
- PUT /admin/users/{user_id}/factors/{factor_id} {friendly_name}: rename one;
- DELETE /admin/users/{user_id}/factors/{factor_id}: remove one (sessions that reached aal2 with it
  fall back to aal1), answering the deleted factor.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from localbase.auth import errors, mfa
from localbase.auth.admin import _user_id
from localbase.auth.context import body, endpoint, json, pool

FACTOR_COLUMNS = "id, created_at, updated_at, status::text, friendly_name, factor_type::text, phone, last_challenged_at"


def factor_json(row: Any) -> dict[str, Any]:
    out = {k: row[k] for k in ("id", "created_at", "updated_at", "status", "factor_type", "phone",
                                "last_challenged_at")}
    if row["friendly_name"]:  # GoTrue leaves an empty name out
        out["friendly_name"] = row["friendly_name"]
    return out


def _factor_id(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params["factor_id"])
    except ValueError:
        raise errors.VALIDATION_FAILED_NOT_FOUND() from None


async def _existing_user(conn, request: Request) -> uuid.UUID:
    uid = _user_id(request)
    if await conn.fetchval("select 1 from auth.users where id = $1", uid) is None:
        raise errors.USER_NOT_FOUND()
    return uid


@endpoint
async def list_factors(request: Request) -> Response:
    async with pool(request).acquire() as conn:
        uid = await _existing_user(conn, request)
        rows = await conn.fetch(f"select {FACTOR_COLUMNS} from auth.mfa_factors where user_id = $1 "
                                "order by created_at", uid)
    return json([factor_json(r) for r in rows])


@endpoint
async def update_factor(request: Request) -> Response:
    data = await body(request)
    name = data.get("friendly_name")
    if name is not None and (not isinstance(name, str) or len(name) > 255):
        raise errors.VALIDATION_FAILED("friendly_name must be a string of at most 255 characters")
    async with pool(request).acquire() as conn:
        uid = await _existing_user(conn, request)
        factor_id = _factor_id(request)
        row = await conn.fetchrow(
            f"update auth.mfa_factors set friendly_name = coalesce(nullif($3, ''), friendly_name), "
            f"updated_at = case when coalesce($3, '') = '' then updated_at else now() end "
            f"where id = $1 and user_id = $2 returning {FACTOR_COLUMNS}", factor_id, uid, name)
    if row is None:
        raise errors.MFA_FACTOR_NOT_FOUND()
    return json(factor_json(row))


@endpoint
async def delete_factor(request: Request) -> Response:
    async with pool(request).acquire() as conn:
        uid = await _existing_user(conn, request)
        factor_id = _factor_id(request)
        async with conn.transaction():
            owned = await conn.fetchval("select 1 from auth.mfa_factors where id = $1 and user_id = $2 for update",
                                        factor_id, uid)
            if owned is None:
                raise errors.MFA_FACTOR_NOT_FOUND()
            row = await mfa.remove_factor(conn, factor_id)
    return json(factor_json(row))
