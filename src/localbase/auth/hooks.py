"""The custom access token hook, as GoTrue runs a `pg-functions://` hook: before an access token
is signed, the configured Postgres function gets `{"user_id", "claims", "authentication_method"}`
and returns `{"claims": {...}}` (used as they are) or `{"error": {"http_code", "message"}}` (the
sign-in fails with that status). It runs as `supabase_auth_admin`, so the function must be
granted to that role, as on Supabase. Claims without the ones every token needs are refused."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from localbase.auth import errors
from localbase.auth.config import AuthConfig
from localbase.database.pool import ran_project_sql

REQUIRED = ("aud", "exp", "iat", "sub", "role", "aal", "session_id")


async def custom_claims(conn: asyncpg.Connection, config: AuthConfig, claims: dict[str, Any],
                        method: str) -> dict[str, Any]:
    if config.access_token_hook is None:
        return claims
    schema, name = config.access_token_hook
    function = '"' + schema + '"."' + name + '"'  # both validated as plain identifiers (auth.config)
    event = {"user_id": claims["sub"], "claims": claims, "authentication_method": method}
    ran_project_sql(conn)  # the hook may leave session state: its connection is reset when released
    try:
        raw = await conn.fetchval(f"select {function}($1::text::jsonb)::text", orjson.dumps(event).decode())
    except asyncpg.PostgresError as exc:
        raise errors.UNEXPECTED_FAILURE(f"Error running hook URI: {exc}") from None
    result = orjson.loads(raw) if raw else None
    if not isinstance(result, dict):
        raise errors.UNEXPECTED_FAILURE("Invalid payload sent to hook: a JSON object is expected")
    failure = result.get("error")
    if isinstance(failure, dict):
        status = failure.get("http_code")
        status = status if isinstance(status, int) and 400 <= status < 600 else 400
        raise errors.HOOK_REFUSED(str(failure.get("message") or errors.HOOK_REFUSED.msg), status=status)
    out = result.get("claims")
    if not isinstance(out, dict) or any(key not in out for key in REQUIRED):
        missing = [k for k in REQUIRED if not isinstance(out, dict) or k not in out]
        raise errors.UNEXPECTED_FAILURE(
            f"output claims do not conform to the expected schema: missing {', '.join(missing)}")
    return out
