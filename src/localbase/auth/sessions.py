"""Sessions and refresh tokens: issuing, rotating (with GoTrue's reuse detection) and revoking.

A refresh token is used once: refreshing revokes it and issues a child. Presenting a revoked
token again within `refresh_token_reuse_interval` seconds (a client that lost the answer to a
refresh) issues another child; after that interval it is treated as stolen and every token of
the session is revoked, so the family can no longer be refreshed."""

from __future__ import annotations

import contextlib
import time
import uuid
from datetime import timedelta
from typing import Any

import asyncpg

from localbase.auth import errors, hooks, tokens, users
from localbase.auth.config import AuthConfig
from localbase.security import jwt

MFA_METHODS = frozenset(("totp", "phone", "webauthn"))


def assurance(amr: list[dict[str, Any]]) -> str:
    """aal2 once a second factor was verified in the session, else aal1."""
    return "aal2" if any(a.get("method") in MFA_METHODS for a in amr) else "aal1"


async def session_json(conn: asyncpg.Connection, config: AuthConfig, user: dict[str, Any], session_id: uuid.UUID,
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


# A refresh is one transaction of two statements: the presented token (locked), its session, the
# session's AMR claims and its user, read at once; then the rotation (the token spent, its child
# issued, the session marked refreshed) in one statement. Reuse of a spent token revokes the family
# in one statement too.
REFRESH_SELECT = f"""
with t as (select rt.id, rt.revoked, rt.updated_at, rt.session_id, s.user_id, s.not_after
           from auth.refresh_tokens rt join auth.sessions s on s.id = rt.session_id
           where rt.token = $1 for update of rt)
select t.id as token_id, t.revoked as token_revoked, t.updated_at as token_updated_at,
       t.session_id as token_session_id, t.not_after as session_not_after,
       (select coalesce(jsonb_agg(jsonb_build_object(
                  'method', c.authentication_method,
                  'timestamp', floor(extract(epoch from c.created_at))::bigint) order by c.created_at), '[]')
          from auth.mfa_amr_claims c where c.session_id = t.session_id) as session_amr,
       u.*
from t left join lateral ({users.USER_SELECT} where u.id = t.user_id) u on true
"""
_TOKEN_COLUMNS = ("token_id", "token_revoked", "token_updated_at", "token_session_id", "session_not_after",
                  "session_amr")
REFRESH_MARK = ("update auth.sessions set refreshed_at = now() at time zone 'utc', updated_at = now() "
                "where id = $1")
REFRESH_ROTATE = """
with r as (update auth.refresh_tokens set revoked = true, updated_at = now() where id = $1 and revoked = false),
     s as (update auth.sessions set refreshed_at = now() at time zone 'utc', updated_at = now() where id = $5)
insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
values ('00000000-0000-0000-0000-000000000000', $2, $3, false, now(), now(), $4, $5)
"""
REVOKE_FAMILY = """
with r as (update auth.refresh_tokens set revoked = true, updated_at = now() where session_id = $1 and revoked = false)
update auth.sessions set not_after = now(), updated_at = now() where id = $1
"""


async def refresh(conn: asyncpg.Connection, config: AuthConfig, presented: str) -> dict[str, Any]:
    """grant_type=refresh_token: BEGIN, REFRESH_SELECT, REFRESH_ROTATE (or REVOKE_FAMILY), COMMIT."""
    if not presented:
        raise errors.REFRESH_TOKEN_NOT_FOUND()
    digest = tokens.digest(presented)
    failure: errors.AuthError | None = None
    async with conn.transaction():
        found = await conn.fetchrow(REFRESH_SELECT, digest)
        if found is None:
            raise errors.REFRESH_TOKEN_NOT_FOUND()
        row = {k: found[k] for k in _TOKEN_COLUMNS}
        user = None if found["id"] is None else {k: v for k, v in found.items() if k not in _TOKEN_COLUMNS}
        if user is None or user.get("deleted_at") is not None:
            raise errors.REFRESH_TOKEN_NOT_FOUND()
        if users.is_banned(user):
            raise errors.USER_BANNED()
        session_id = row["token_session_id"]
        if row["session_not_after"] is not None and row["session_not_after"] < users.now():
            if row["token_revoked"]:  # a family revoked for reuse: every token of it is "already used"
                raise errors.REFRESH_TOKEN_ALREADY_USED()
            raise errors.SESSION_EXPIRED()
        if row["token_revoked"]:
            reuse_until = row["token_updated_at"] + timedelta(seconds=config.refresh_token_reuse_interval)
            if not config.enable_refresh_token_rotation or users.now() > reuse_until:
                # Reuse of a spent token: revoke the whole family (every token of the session).
                await conn.execute(REVOKE_FAMILY, session_id)
                failure = errors.REFRESH_TOKEN_ALREADY_USED()
        if failure is None:
            if config.enable_refresh_token_rotation:
                new_token = tokens.new_refresh_token()
                await conn.execute(REFRESH_ROTATE, row["token_id"], tokens.digest(new_token), str(user["id"]),
                                   digest, session_id)
            else:
                new_token = presented
                await conn.execute(REFRESH_MARK, session_id)
            # inside the transaction: a hook refusing the token leaves the presented one unspent
            answer = await session_json(conn, config, user, session_id, new_token, row["session_amr"],
                                        "token_refresh")
    if failure is not None:  # raised after commit, so the family revocation sticks
        raise failure
    return answer


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
