"""One-time tokens (email OTP codes and link token hashes) and PKCE flow state.

A mail carries a code (the OTP) and a link whose `token` is GoTrue's token hash
(sha224(address + otp)); only the hash is stored, in auth.one_time_tokens and in the matching
auth.users column, as GoTrue does. PKCE links carry `pkce_<hash>`, and verifying one hands the
browser an auth code (auth.flow_state) to exchange with the code verifier."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from localbase.auth import errors, mail, tokens
from localbase.auth.config import AuthConfig

# mail / verification type -> (one_time_token_type, auth.users token column, auth.users sent-at column)
TOKEN_KINDS = {
    "signup": ("confirmation_token", "confirmation_token", "confirmation_sent_at"),
    "invite": ("confirmation_token", "confirmation_token", "invited_at"),
    "magiclink": ("recovery_token", "recovery_token", "recovery_sent_at"),
    "recovery": ("recovery_token", "recovery_token", "recovery_sent_at"),
    "email_change": ("email_change_token_new", "email_change_token_new", "email_change_sent_at"),
    "reauthentication": ("reauthentication_token", "reauthentication_token", "reauthentication_sent_at"),
    "sms": ("confirmation_token", "confirmation_token", "confirmation_sent_at"),
    "phone_change": ("phone_change_token", "phone_change_token", "phone_change_sent_at"),
}
# kinds whose token also records the address it goes to, in this auth.users column
PENDING_ADDRESS = {"email_change": "email_change", "phone_change": "phone_change"}
# verify_otp type -> the token types it may consume
VERIFY_TYPES = {
    "signup": ("confirmation_token",),
    "invite": ("confirmation_token",),
    "magiclink": ("recovery_token",),
    "recovery": ("recovery_token",),
    "email_change": ("email_change_token_new", "email_change_token_current"),
    "email": ("confirmation_token", "recovery_token"),
}
REAUTHENTICATION = {"reauthentication": ("reauthentication_token",)}
PHONE_TYPES = {"sms": ("confirmation_token",), "phone_change": ("phone_change_token",)}
AUTH_METHODS = {"signup": "email/signup", "invite": "invite", "magiclink": "magiclink",
                "recovery": "recovery", "email_change": "email_change", "email": "email"}
FLOW_EXPIRY_S = 300
PKCE_PREFIX = "pkce_"


async def issue(conn: asyncpg.Connection, config: AuthConfig, user: dict[str, Any], mail_type: str,
                redirect_to: str, *, address: str | None = None, pkce: tuple[str, str] | None = None,
                send: bool = True) -> dict[str, Any]:
    """Create the token for `mail_type`, send (or keep) the mail, and return generate_link's
    properties. `address` is where the mail goes (the new address for email_change)."""
    to = (address or user["email"]).lower()
    if send:
        await check_frequency(conn, user["id"], mail_type, config.max_frequency_s, errors.OVER_EMAIL_SEND_RATE_LIMIT)
    otp = tokens.new_otp(config.otp_length)
    hashed = tokens.token_hash(to, otp)
    await store(conn, user["id"], mail_type, hashed, to)
    link_token = hashed
    if pkce is not None:
        await create_flow(conn, user["id"], pkce, AUTH_METHODS[mail_type])
        link_token = PKCE_PREFIX + hashed
    link = mail.action_link(config, link_token, mail_type, redirect_to)
    if send:
        await mail.send(conn, config, to=to, mail_type=mail_type, link=link, otp=otp)
    return {"action_link": link, "email_otp": otp, "hashed_token": hashed, "redirect_to": redirect_to,
            "verification_type": mail_type}


async def check_frequency(conn: asyncpg.Connection, user_id: Any, kind: str, seconds: int,
                          code: errors.Code) -> None:
    """429 when a token of this kind went to the user less than `seconds` ago."""
    if seconds <= 0:
        return
    sent_column = TOKEN_KINDS[kind][2]
    too_soon = await conn.fetchval(
        f"select {sent_column} > now() - make_interval(secs => $2) from auth.users where id = $1",
        user_id, float(seconds))
    if too_soon:
        raise code(f"For security purposes, you can only request this after {seconds} seconds.")


async def store(conn: asyncpg.Connection, user_id: Any, kind: str, hashed: str, relates_to: str) -> None:
    """Keep a new token's hash (auth.one_time_tokens and the auth.users column of its kind, with
    its sending time), replacing the user's previous token of that kind."""
    token_type, column, sent_column = TOKEN_KINDS[kind]
    await conn.execute(
        """insert into auth.one_time_tokens (id, user_id, token_type, token_hash, relates_to)
           values ($1, $2, $3::auth.one_time_token_type, $4, $5)
           on conflict (user_id, token_type) do update
             set token_hash = excluded.token_hash, relates_to = excluded.relates_to,
                 created_at = now(), updated_at = now()""",
        uuid.uuid4(), user_id, token_type, hashed, relates_to)
    pending = PENDING_ADDRESS.get(kind)
    extra = f", {pending} = $3" if pending else ""
    await conn.execute(
        f"update auth.users set {column} = $2, {sent_column} = now(), updated_at = now(){extra} where id = $1",
        user_id, hashed, *([relates_to] if pending else []))


async def consume(conn: asyncpg.Connection, config: AuthConfig, verify_type: str, *,
                  token_hash: str | None = None, email: str | None = None,
                  otp: str | None = None, nonce: bool = False, phone: bool = False) -> tuple[uuid.UUID, str, str]:
    """Find, check (type, expiry) and delete a one-time token. Returns (user_id, token_type,
    relates_to). Wrong, used and expired tokens all get the same 403 otp_expired. The
    `reauthentication` nonce is consumed here too (`nonce=True`: by PUT /user, never by /verify);
    `phone`: an SMS code (`email` then holds the number), with the SMS expiry."""
    allowed = REAUTHENTICATION.get(verify_type) if nonce else \
        PHONE_TYPES.get(verify_type) if phone else VERIFY_TYPES.get(verify_type)
    if allowed is None:
        raise errors.VALIDATION_FAILED(f"Verify requires a verification type (one of {', '.join(VERIFY_TYPES)})")
    if token_hash:
        if token_hash.startswith(PKCE_PREFIX):
            token_hash = token_hash[len(PKCE_PREFIX):]
        lookup, relates_to = token_hash, None
    elif email and otp:
        lookup, relates_to = tokens.token_hash(email.lower(), otp), email.lower()
    else:
        raise errors.VALIDATION_FAILED("Verify requires either a token or a token hash")
    row = await conn.fetchrow(
        """delete from auth.one_time_tokens
           where token_hash = $1 and token_type::text = any($2::text[])
             and ($3::text is null or relates_to = $3)
           returning user_id, token_type::text as token_type, relates_to,
                     created_at > (now() at time zone 'utc') - make_interval(secs => $4) as fresh""",
        lookup, list(allowed), relates_to, float(config.sms.otp_expiry if phone else config.otp_expiry))
    if row is None or not row["fresh"]:
        raise errors.OTP_EXPIRED()
    await conn.execute(f"update auth.users set {row['token_type']} = '' where id = $1", row["user_id"])
    return row["user_id"], row["token_type"], row["relates_to"]


def pkce_params(body: dict[str, Any]) -> tuple[str, str] | None:
    challenge = body.get("code_challenge")
    if not challenge:
        return None
    method = str(body.get("code_challenge_method") or "plain").lower()
    if method not in ("s256", "plain") or not isinstance(challenge, str) or not 43 <= len(challenge) <= 128:
        raise errors.VALIDATION_FAILED("Invalid code_challenge or code_challenge_method")
    return challenge, method


async def create_flow(conn: asyncpg.Connection, user_id: uuid.UUID, pkce: tuple[str, str], method: str) -> None:
    challenge, challenge_method = pkce
    await conn.execute(
        """insert into auth.flow_state (id, user_id, auth_code, code_challenge_method, code_challenge,
               provider_type, created_at, updated_at, authentication_method)
           values ($1, $2, $3, $4::auth.code_challenge_method, $5, 'email', now(), now(), $6)""",
        uuid.uuid4(), user_id, tokens.new_auth_code(), challenge_method, challenge, method)


async def flow_code(conn: asyncpg.Connection, user_id: uuid.UUID, verify_type: str) -> str | None:
    """After a PKCE link is verified: the auth code of the user's latest flow for that method."""
    return await conn.fetchval(
        """update auth.flow_state set auth_code_issued_at = now(), updated_at = now()
           where id = (select id from auth.flow_state where user_id = $1 and authentication_method = $2
                       order by created_at desc limit 1)
           returning auth_code""", user_id, AUTH_METHODS.get(verify_type, verify_type))


async def exchange(conn: asyncpg.Connection, auth_code: str, verifier: str) -> tuple[uuid.UUID, str]:
    """Consume a flow state: (user_id, authentication_method), or GoTrue's errors."""
    if not auth_code or not verifier:
        raise errors.VALIDATION_FAILED("invalid request: both auth code and code verifier should be non-empty")
    row = await conn.fetchrow(
        """delete from auth.flow_state where auth_code = $1 and auth_code_issued_at is not null
           returning user_id, code_challenge, code_challenge_method::text as method, authentication_method,
                     auth_code_issued_at > now() - make_interval(secs => $2) as fresh""",
        auth_code, float(FLOW_EXPIRY_S))
    if row is None or row["user_id"] is None:
        raise errors.FLOW_STATE_NOT_FOUND()
    if not row["fresh"]:
        raise errors.FLOW_STATE_EXPIRED()
    if not tokens.pkce_matches(row["method"], row["code_challenge"], verifier):
        raise errors.BAD_CODE_VERIFIER()
    return row["user_id"], row["authentication_method"]
