"""Helpers for Localbase's tests: tokens, users, SQL as superuser, clients."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg

from localbase.security import jwt


def user_token(server, user_id: str, *, role: str = "authenticated", expires_in: int = 3600,
               secret: str | None = None, **claims) -> str:
    now = int(time.time())
    return jwt.sign({"sub": user_id, "role": role, "aud": "authenticated", "iat": now,
                     "exp": now + expires_in, **claims}, secret or server.jwt_secret)


def run_sync(make_coro):
    """Run a coroutine to completion from sync or async test code (in a thread of its own)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make_coro())).result()


def sql(server, query: str, *args):
    """Run SQL as the superuser (test set-up and assertions that must bypass the API)."""
    async def go():
        conn = await asyncpg.connect(server.db_url)
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()
    return run_sync(go)


def client_for(server, token: str | None = None):
    from supabase import ClientOptions, create_client
    client = create_client(server.url, server.anon_key,
                           options=ClientOptions(auto_refresh_token=False, persist_session=False))
    if token:
        client.postgrest.auth(token)
    return client


@contextmanager
def temp_project(prefix: str = "lb-") -> Iterator[Path]:
    """An empty project folder (supabase/migrations/), removed afterwards. Outside pytest's basetemp,
    which pytest keeps 0700: run as root, PostgreSQL's service account must reach the data folder."""
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        root = Path(name)
        (root / "supabase" / "migrations").mkdir(parents=True)
        yield root
