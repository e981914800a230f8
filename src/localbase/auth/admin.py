"""The admin API (bearer token with role service_role): /admin/users CRUD, /admin/generate_link,
/invite."""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from localbase.auth import errors, otp, passwords, phone, sessions, users
from localbase.auth.context import body, endpoint, json, pool, redirect_target, service

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_MAX_DURATION_S = (2**63 - 1) / 1e9  # about 292 years, the longest Go duration


def ban_until(duration: Any) -> Any:
    """A Go duration ("24h", "1h30m", "100s") from now; "none" lifts a ban (None)."""
    if duration == "none":
        return None
    text = str(duration)
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise errors.VALIDATION_FAILED("invalid format for ban duration: " + text[:40])
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds > _MAX_DURATION_S:  # Go's time.ParseDuration refuses what overflows int64 nanoseconds
        raise errors.VALIDATION_FAILED(f'invalid format for ban duration: time: invalid duration "{text[:40]}"')
    return users.now() + timedelta(seconds=seconds)


def _user_id(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params["user_id"])
    except ValueError:
        raise errors.USER_NOT_FOUND() from None


def _dict(value: Any, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise errors.VALIDATION_FAILED(f"{name} must be a JSON object")
    return value


async def _password_hash(data: dict[str, Any], cost: int) -> str | None:
    cfg_cost = cost
    if data.get("password_hash"):
        hashed = str(data["password_hash"])
        if not await asyncio.to_thread(passwords.valid_hash, hashed):
            raise errors.VALIDATION_FAILED_UNPROCESSABLE("Invalid password hash format (bcrypt expected)")
        return hashed
    if data.get("password"):
        return await passwords.hash_password(str(data["password"]), cfg_cost)
    return None


@endpoint
async def create_user(request: Request) -> Response:
    cfg = service(request).config
    data = await body(request)
    number = phone.validate_phone(data["phone"]) if data.get("phone") else None
    email = users.normalize_email(data.get("email")) if data.get("email") or not number else None
    if data.get("password"):
        passwords.check_policy(str(data["password"]), cfg)
    hashed = await _password_hash(data, cfg.bcrypt_cost)
    meta = _dict(data.get("user_metadata", data.get("data")), "user_metadata")
    app_meta = _dict(data.get("app_metadata"), "app_metadata")
    try:
        user_id = uuid.UUID(str(data["id"])) if data.get("id") else None
    except ValueError:
        raise errors.VALIDATION_FAILED("id must be a UUID") from None
    async with pool(request).acquire() as conn:
        async with conn.transaction():
            if email and await users.by_email(conn, email) is not None:
                raise errors.EMAIL_EXISTS()
            if number and await users.by_phone(conn, number) is not None:
                raise errors.PHONE_EXISTS()
            try:
                user = await users.create(conn, email=email, phone=number, encrypted_password=hashed,
                                          user_metadata=meta, app_metadata=app_meta,
                                          email_confirmed=bool(data.get("email_confirm")),
                                          phone_confirmed=bool(data.get("phone_confirm")),
                                          role=str(data.get("role") or "authenticated"), user_id=user_id)
            except asyncpg.UniqueViolationError:
                raise errors.USER_ALREADY_EXISTS() from None
            if data.get("ban_duration"):
                await conn.execute("update auth.users set banned_until = $2 where id = $1",
                                   user["id"], ban_until(data["ban_duration"]))
                user = await users.reload(conn, user["id"])
    return json(users.to_json(user))


@endpoint
async def list_users(request: Request) -> Response:
    page = max(1, page_param(request, "page", 1))
    per_page = min(1000, max(1, page_param(request, "per_page", 50)))
    async with pool(request).acquire() as conn:
        total = await conn.fetchval("select count(*) from auth.users")
        rows = await conn.fetch(users.USER_SELECT + " order by u.created_at desc, u.id limit $1 offset $2",
                                per_page, (page - 1) * per_page)
    last = max(1, -(-total // per_page))
    path = f"{service(request).config.issuer}/admin/users"
    links = []
    if page < last:
        links.append(f'<{path}?page={page + 1}&per_page={per_page}>; rel="next"')
    links.append(f'<{path}?page={last}&per_page={per_page}>; rel="last"')
    return json({"users": [users.to_json(dict(r)) for r in rows], "aud": "authenticated"},
                headers={"x-total-count": str(total), "link": ", ".join(links)})


def page_param(request: Request, name: str, default: int) -> int:
    """An unsigned integer, refused as GoTrue refuses it (its Go parser's words)."""
    raw = request.query_params.get(name) or ""
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit():
        raise errors.VALIDATION_FAILED(
            f'Bad Pagination Parameters: strconv.ParseUint: parsing "{raw[:40]}": invalid syntax')
    return int(raw)


@endpoint
async def get_user(request: Request) -> Response:
    async with pool(request).acquire() as conn:
        user = await users.by_id(conn, _user_id(request))
    if user is None:
        raise errors.USER_NOT_FOUND()
    return json(users.to_json(user))


@endpoint
async def update_user(request: Request) -> Response:
    cfg = service(request).config
    uid = _user_id(request)
    data = await body(request)
    if data.get("password"):
        passwords.check_policy(str(data["password"]), cfg)
    hashed = await _password_hash(data, cfg.bcrypt_cost)
    meta = _dict(data.get("user_metadata", data.get("data")), "user_metadata")
    app_meta = _dict(data.get("app_metadata"), "app_metadata")
    async with pool(request).acquire() as conn:
        async with conn.transaction():
            user = await users.by_id(conn, uid)
            if user is None:
                raise errors.USER_NOT_FOUND()
            if data.get("email"):
                email = users.normalize_email(data["email"])
                if email != user.get("email"):
                    other = await users.by_email(conn, email)
                    if other is not None and other["id"] != uid:
                        raise errors.EMAIL_EXISTS()
                    await users.set_email(conn, uid, email, confirmed=bool(data.get("email_confirm"))
                                          or user.get("email_confirmed_at") is not None)
            if data.get("email_confirm"):
                await users.confirm_email(conn, uid)
            if data.get("phone"):
                number = phone.validate_phone(data["phone"])
                other = await users.by_phone(conn, number)
                if other is not None and other["id"] != uid:
                    raise errors.PHONE_EXISTS()
                if number != (user.get("phone") or ""):
                    await users.set_phone(conn, uid, number)  # an admin's change needs no code
            if data.get("phone_confirm"):
                await users.confirm_phone(conn, uid)
            if hashed is not None:
                await users.set_password(conn, uid, hashed)
            if meta:
                await users.merge_user_metadata(conn, uid, meta)
            if app_meta:
                await conn.execute(
                    "update auth.users set raw_app_meta_data = coalesce(raw_app_meta_data, '{}'::jsonb) || $2, "
                    "updated_at = now() where id = $1", uid, app_meta)
            if data.get("role"):
                await conn.execute("update auth.users set role = $2, updated_at = now() where id = $1",
                                   uid, str(data["role"]))
            if data.get("ban_duration"):
                until = ban_until(data["ban_duration"])
                await conn.execute("update auth.users set banned_until = $2, updated_at = now() where id = $1",
                                   uid, until)
                if until is not None:
                    await sessions.revoke_all(conn, uid)  # a banned user's refresh tokens stop working
            user = await users.reload(conn, uid)
    return json(users.to_json(user))


@endpoint
async def delete_user(request: Request) -> Response:
    uid = _user_id(request)
    data = await body(request)
    async with pool(request).acquire() as conn:
        async with conn.transaction():
            user = await users.by_id(conn, uid)
            if user is None:
                raise errors.USER_NOT_FOUND()
            if data.get("should_soft_delete"):
                # As GoTrue: keep the row (foreign keys to it survive), make it unusable and anonymous.
                tag = hashlib.sha256(str(uid).encode()).hexdigest()[:16]
                await conn.execute(
                    """update auth.users set deleted_at = now(), updated_at = now(), encrypted_password = '',
                           email = case when email is null then null else 'deleted-' || $2 || '@deleted.invalid' end,
                           phone = null, raw_user_meta_data = '{}'::jsonb, email_change = '',
                           confirmation_token = '', recovery_token = '', email_change_token_new = ''
                       where id = $1""", uid, tag)
                await conn.execute("delete from auth.identities where user_id = $1", uid)
                await conn.execute("delete from auth.one_time_tokens where user_id = $1", uid)
                await sessions.revoke_all(conn, uid)
            else:
                await conn.execute("delete from auth.users where id = $1", uid)
    return json({})


@endpoint
async def generate_link(request: Request) -> Response:
    cfg = service(request).config
    data = await body(request)
    kind = data.get("type")
    kinds = {"signup": "signup", "invite": "invite", "magiclink": "magiclink", "recovery": "recovery",
             "email_change_current": "email_change", "email_change_new": "email_change"}
    if kind not in kinds:
        raise errors.VALIDATION_FAILED("Invalid email action link type requested: " + str(kind)[:40])
    email = users.normalize_email(data.get("email"))
    redirect = redirect_target(cfg, request.query_params.get("redirect_to") or data.get("redirect_to"))
    meta = _dict(data.get("data"), "data")
    async with pool(request).acquire() as conn:
        async with conn.transaction():
            user = await users.by_email(conn, email)
            if user is None:
                if kind not in ("signup", "invite", "magiclink"):
                    raise errors.USER_NOT_FOUND("User with this email not found")
                hashed = None
                if kind == "signup":
                    if not data.get("password"):
                        raise errors.VALIDATION_FAILED_UNPROCESSABLE("Signup requires a valid password")
                    passwords.check_policy(str(data["password"]), cfg)
                    hashed = await passwords.hash_password(str(data["password"]), cfg.bcrypt_cost)
                user = await users.create(conn, email=email, encrypted_password=hashed, user_metadata=meta,
                                          invited=kind == "invite")
            elif kind in ("signup", "invite") and user.get("email_confirmed_at") is not None:
                raise errors.EMAIL_EXISTS()
            address = None
            if kinds[kind] == "email_change":
                address = users.normalize_email(data.get("new_email"))
                if await users.by_email(conn, address) is not None:
                    raise errors.EMAIL_EXISTS()
            props = await otp.issue(conn, cfg, user, kinds[kind], redirect, address=address, send=False)
            props["verification_type"] = kind
            user = await users.reload(conn, user["id"])
    return json({**users.to_json(user), **props})


@endpoint
async def invite(request: Request) -> Response:
    cfg = service(request).config
    data = await body(request)
    email = users.normalize_email(data.get("email"))
    redirect = redirect_target(cfg, request.query_params.get("redirect_to"))
    async with pool(request).acquire() as conn:
        async with conn.transaction():
            user = await users.by_email(conn, email)
            if user is not None and user.get("email_confirmed_at") is not None:
                raise errors.EMAIL_EXISTS()
            if user is None:  # invited_at is the invite's sending time, set by otp.issue
                user = await users.create(conn, email=email, encrypted_password=None,
                                          user_metadata=_dict(data.get("data"), "data"))
            await otp.issue(conn, cfg, user, "invite", redirect)
            user = await users.reload(conn, user["id"])
    return json(users.to_json(user))
