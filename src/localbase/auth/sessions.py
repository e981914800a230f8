"""Sessions and refresh tokens: issuing, rotating (with GoTrue's reuse detection) and revoking.

A refresh token is used once: refreshing revokes it and issues a child. Presenting a revoked
token again within `refresh_token_reuse_interval` seconds (a client that lost the answer to a
refresh) issues another child; after that interval it is treated as stolen and every token of
the session is revoked, so the family can no longer be refreshed."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from localbase.auth import errors, hooks, tokens, users
from localbase.auth.config import AuthConfig
from localbase.security import jwt

MFA_METHODS = frozenset(("totp", "phone", "webauthn"))


def assurance(amr: list[dict[str, Any]]) -> str:
    """aal2 once a second factor was verified in the session, else aal1."""
    return "aal2" if any(a.get("method") in MFA_METHODS for a in amr) else "aal1"


async def session_json(conn: asyncpg.Connection, config: AuthConfig, user: Mapping[str, Any], session_id: uuid.UUID,
                       refresh_token: str, amr: list[dict[str, Any]], method: str) -> dict[str, Any]:
    """The session answer: its access token (through the custom access token hook when one is
    configured), refresh token and user. `method`: how this token was earned (password,
    token_refresh, totp, ...)."""
    claims = tokens.access_claims(config, user, str(session_id), amr, assurance(amr))
    claims = await hooks.custom_claims(conn, config, claims, method)
    return {"access_token": jwt.sign(claims, config.keys), "token_type": "bearer",
            "expires_in": config.jwt_expiry, "expires_at": claims["exp"], "refresh_token": refresh_token,
            "user": users.to_json(user)}


async def start(conn: asyncpg.Connection, config: AuthConfig, user: dict[str, Any], method: str, *,
                ip: str | None = None, user_agent: str | None = None) -> dict[str, Any]:
    """A new session for `user` signed in by `method` (password, otp, anonymous, ...): one
    statement for the session, its first refresh token, the AMR claim and last_sign_in_at; with an
    access token hook, in one transaction with the hook (a hook refusing the token rolls the
    session back, as GoTrue does)."""
    session_id = uuid.uuid4()
    refresh = tokens.new_refresh_token()
    ts = users.now()
    async with conn.transaction() if config.access_token_hook is not None else contextlib.nullcontext():
        await conn.execute(
            """with s as (insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip)
                          values ($1, $2, $3, $3, 'aal1', $4, $5::inet)),
                    r as (insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at,
                                                            updated_at, parent, session_id)
                          values ('00000000-0000-0000-0000-000000000000', $6, $2::text, false, $3, $3, null, $1)),
                    a as (insert into auth.mfa_amr_claims (session_id, created_at, updated_at,
                                                            authentication_method, id)
                          values ($1, $3, $3, $7, $8)),
                    i as (update auth.identities set last_sign_in_at = $3 where user_id = $2 and $7 <> 'anonymous')
               update auth.users set last_sign_in_at = $3, updated_at = $3 where id = $2""",
            session_id, user["id"], ts, (user_agent or "")[:1000] or None, client_inet(ip),
            tokens.digest(refresh), method, uuid.uuid4())
        user = {**user, "last_sign_in_at": ts, "updated_at": ts}
        amr = [{"method": method, "timestamp": int(ts.timestamp())}]
        return await session_json(conn, config, user, session_id, refresh, amr, method)


def client_inet(ip: str | None) -> str | None:
    if not ip:
        return None
    import ipaddress

    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return None


async def upgrade(conn: asyncpg.Connection, session_id: uuid.UUID, user_id: Any, factor_id: uuid.UUID,
                  method: str, ts) -> str:
    """A second factor was verified in the session: record it (aal2 from now on, refreshes
    included) and issue a new refresh token for the session."""
    refresh = tokens.new_refresh_token()
    await conn.execute(
        """with a as (insert into auth.mfa_amr_claims (session_id, created_at, updated_at, authentication_method, id)
                      values ($1, $3, $3, $4, $5)
                      on conflict (session_id, authentication_method) do update set updated_at = excluded.updated_at),
                r as (insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at,
                                                       parent, session_id)
                      values ('00000000-0000-0000-0000-000000000000', $6, $2::text, false, $3, $3, null, $1))
           update auth.sessions set aal = 'aal2', factor_id = $7, updated_at = $3 where id = $1""",
        session_id, str(user_id), ts, method, uuid.uuid4(), tokens.digest(refresh), factor_id)
    return refresh


async def amr_of(conn: asyncpg.Connection, session_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "select authentication_method, created_at from auth.mfa_amr_claims where session_id = $1 "
        "order by created_at", session_id)
    return [{"method": r["authentication_method"], "timestamp": int(r["created_at"].timestamp())} for r in rows]


# A refresh is one statement, so one transaction and one round trip (no BEGIN, no COMMIT): the presented
# token is locked (a concurrent refresh of the same token waits, then sees it spent), the verdict is
# reached from the token, its session and its user, and what the verdict asks is done in the same
# statement:
#   ok        the token is live (or spent within the reuse interval: a client that lost the answer)
#             and its session and user are good: the token spent, its child issued (rotation on; off:
#             the session only marked refreshed), the session, AMR claims and user returned;
#   reuse     a spent token presented after the reuse interval (or at all, rotation off): treated as
#             stolen, every token of the session revoked and the session ended;
#   gone / banned / used / expired: nothing written, the error answered.
# $1 the presented token's digest, $2 the child's digest, $3 rotation on, $4 the reuse interval (s).
REFRESH = f"""
with t as (select rt.id, rt.revoked, rt.updated_at, rt.session_id, s.user_id, s.not_after
           from auth.refresh_tokens rt join auth.sessions s on s.id = rt.session_id
           where rt.token = $1 for update of rt),
     v as (select t.*, case
                 when u.id is null or u.deleted_at is not null then 'gone'
                 when u.banned_until > now() then 'banned'
                 when t.not_after < now() then case when t.revoked then 'used' else 'expired' end
                 when t.revoked and (not $3 or now() > t.updated_at + make_interval(secs => $4)) then 'reuse'
                 else 'ok' end as verdict
           from t left join auth.users u on u.id = t.user_id),
     family as (update auth.refresh_tokens set revoked = true, updated_at = now()
                where session_id = (select session_id from v where verdict = 'reuse') and revoked = false),
     ended as (update auth.sessions set not_after = now(), updated_at = now()
               where id = (select session_id from v where verdict = 'reuse')),
     spent as (update auth.refresh_tokens set revoked = true, updated_at = now()
               where id = (select id from v where verdict = 'ok' and $3) and revoked = false),
     marked as (update auth.sessions set refreshed_at = now() at time zone 'utc', updated_at = now()
                where id = (select session_id from v where verdict = 'ok')),
     child as (insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at,
                                                parent, session_id)
               select '00000000-0000-0000-0000-000000000000', $2, v.user_id::text, false, now(), now(), $1,
                      v.session_id
               from v where v.verdict = 'ok' and $3)
select v.verdict as refresh_verdict, v.session_id as token_session_id,
       (select coalesce(json_agg(json_build_object(
                  'method', c.authentication_method,
                  'timestamp', floor(extract(epoch from c.created_at))::bigint) order by c.created_at), '[]')
          from auth.mfa_amr_claims c where c.session_id = v.session_id and v.verdict = 'ok') as session_amr,
       u.*
from v left join lateral ({users.USER_SELECT} where u.id = v.user_id and v.verdict = 'ok') u on true
"""
_REFUSED = {"gone": errors.REFRESH_TOKEN_NOT_FOUND, "banned": errors.USER_BANNED,
            "used": errors.REFRESH_TOKEN_ALREADY_USED, "expired": errors.SESSION_EXPIRED,
            "reuse": errors.REFRESH_TOKEN_ALREADY_USED}


async def refresh(conn: asyncpg.Connection, config: AuthConfig, presented: str) -> dict[str, Any]:
    """grant_type=refresh_token: the one statement REFRESH. With a custom access token hook, the
    statement and the hook share a transaction (a hook refusing the token leaves the presented one
    unspent); a family revoked for reuse is committed before the error is answered."""
    if not presented:
        raise errors.REFRESH_TOKEN_NOT_FOUND()
    digest = tokens.digest(presented)
    rotate = config.enable_refresh_token_rotation
    new_token = tokens.new_refresh_token() if rotate else presented
    args = (digest, tokens.digest(new_token), rotate, float(config.refresh_token_reuse_interval))
    if config.access_token_hook is None:
        return await _refreshed(conn, config, await conn.fetchrow(REFRESH, *args), new_token)
    found = None
    async with conn.transaction():
        found = await conn.fetchrow(REFRESH, *args)
        if found is None or found["refresh_verdict"] == "ok":
            return await _refreshed(conn, config, found, new_token)
    return await _refreshed(conn, config, found, new_token)  # refused: raised after the commit


async def _refreshed(conn: asyncpg.Connection, config: AuthConfig, found: asyncpg.Record | None,
                     new_token: str) -> dict[str, Any]:
    """The session answer for REFRESH's row, or the error its verdict names."""
    if found is None:
        raise errors.REFRESH_TOKEN_NOT_FOUND()
    verdict = found["refresh_verdict"]
    if verdict != "ok":
        raise _REFUSED[verdict]()
    # the row is the user as users.USER_SELECT reads it, plus REFRESH's own columns, which neither the
    # claims nor the user's JSON read: used as it is, not copied into a dict first
    return await session_json(conn, config, found, found["token_session_id"], new_token, found["session_amr"],
                              "token_refresh")


async def current(conn: asyncpg.Connection, claims: dict[str, Any]) -> dict[str, Any]:
    """The user of a verified access token, with GoTrue's checks: the user and (when the token
    names one) the session must still exist."""
    sub = claims.get("sub")
    if not sub:
        raise errors.BAD_JWT("invalid claim: missing sub claim")
    user = await users.by_id(conn, sub)
    if user is None or user.get("deleted_at") is not None:
        raise errors.USER_NOT_FOUND_FORBIDDEN("User from sub claim in JWT does not exist")
    session_id = claims.get("session_id")
    if session_id:
        try:
            sid = uuid.UUID(str(session_id))
        except ValueError:
            raise errors.BAD_JWT("invalid claim: session_id claim must be a UUID") from None
        exists = await conn.fetchval(
            "select 1 from auth.sessions where id = $1 and user_id = $2 and (not_after is null or not_after > now())",
            sid, user["id"])
        if not exists:
            raise errors.SESSION_NOT_FOUND()
    return user


async def logout(conn: asyncpg.Connection, user_id: uuid.UUID, session_id: str | None, scope: str) -> None:
    sid = uuid.UUID(session_id) if session_id else None
    if scope == "local":
        if sid is not None:
            await conn.execute("delete from auth.sessions where id = $1 and user_id = $2", sid, user_id)
    elif scope == "others":
        await conn.execute("delete from auth.sessions where user_id = $1 and id is distinct from $2",
                           user_id, sid)
    else:
        await conn.execute("delete from auth.sessions where user_id = $1", user_id)


async def revoke_all(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await conn.execute("delete from auth.sessions where user_id = $1", user_id)


def epoch() -> int:
    return int(time.time())
