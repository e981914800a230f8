"""What the Auth page reads of auth.users and auth.sessions (through the auth service's pool and its
own user query, users.USER_SELECT); every change goes through the Auth admin API instead."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from localbase.auth import users

PER_PAGE = 50
SEARCH_SQL = users.USER_SELECT + """
where ($1::text is null or u.email ilike $1 or u.id::text = $2 or u.phone = $2)
order by u.created_at desc, u.id limit $3 offset $4
"""
COUNT_SQL = """
select count(*) from auth.users u where ($1::text is null or u.email ilike $1 or u.id::text = $2 or u.phone = $2)
"""
SESSIONS_SQL = """
select id, created_at, updated_at, refreshed_at, aal::text as aal, not_after, user_agent, host(ip) as ip,
       (select count(*) from auth.refresh_tokens r where r.session_id = s.id and not r.revoked) as live_tokens
from auth.sessions s where user_id = $1 order by created_at desc limit 100
"""


def _pattern(query: str) -> str | None:
    query = query.strip()
    if not query:
        return None
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search(pool: asyncpg.Pool, query: str, page: int) -> tuple[list[dict[str, Any]], int]:
    """Users whose email holds `query` (or whose id or phone is it), newest first; and how many."""
    pattern, exact = _pattern(query), query.strip()
    async with pool.acquire() as conn:
        rows = await conn.fetch(SEARCH_SQL, pattern, exact, PER_PAGE, (max(page, 1) - 1) * PER_PAGE)
        total = await conn.fetchval(COUNT_SQL, pattern, exact)
    return [users.to_json(dict(r)) | {"banned": users.is_banned(dict(r))} for r in rows], total


async def sessions_of(pool: asyncpg.Pool, user_id: str) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        return [dict(r) for r in await conn.fetch(SESSIONS_SQL, uuid.UUID(user_id))]
