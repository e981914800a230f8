"""Fixed-window request counters per (bucket, key), kept in PostgreSQL.

Keys are client IPs or lower-cased email addresses. The counters live in the unlogged table
auth.rate_limit_windows, so that every API worker (`--workers N`) and a restarted server count
together: a client gets each limit once, not once per process. One statement per hit starts a
new window when the old one is over, or adds one to it, and returns the count; windows older than
the longest one (an hour) are deleted now and then, on the limiter's own connection (not in a
caller's transaction). The statement reads the clock once (statement_timestamp()), so the restart
of a window and its count agree. A database that cannot be reached fails the request like any
other auth query does (503), never lets it through unchecked."""

from __future__ import annotations

import time
from collections.abc import Callable

import asyncpg

from localbase.auth import errors

HIT = """
insert into auth.rate_limit_windows as w (bucket, key, window_start, hits)
values ($1, $2, statement_timestamp(), 1)
on conflict (bucket, key) do update
   set window_start = case when w.window_start <= statement_timestamp() - make_interval(secs => $3)
                           then statement_timestamp() else w.window_start end,
       hits = case when w.window_start <= statement_timestamp() - make_interval(secs => $3)
                   then 1 else w.hits + 1 end
returning hits, extract(epoch from w.window_start + make_interval(secs => $3) - statement_timestamp())::float8
"""
SWEEP = "delete from auth.rate_limit_windows where window_start < statement_timestamp() - interval '1 hour'"
SWEEP_EVERY_SECONDS = 60.0


class RateLimiter:
    def __init__(self, pool: Callable[[], asyncpg.Pool]):
        self._pool = pool
        self._last_sweep = time.monotonic()

    async def hit(self, bucket: str, key: str | None, limit: int, window_s: int,
                  code: errors.Code = errors.OVER_REQUEST_RATE_LIMIT,
                  *, conn: asyncpg.Connection | None = None) -> None:
        """Count one request; raise 429 when `key` went over `limit` in the current window.
        A limit of 0 or less disables the check. `conn`: a connection the caller holds (the hit
        is then part of its transaction), else one from the auth pool."""
        if limit <= 0 or not key:
            return
        if conn is None:
            async with self._pool().acquire() as own:
                await self._sweep_if_due(own)
                hits, left = await own.fetchrow(HIT, bucket, key, float(window_s))
        else:
            hits, left = await conn.fetchrow(HIT, bucket, key, float(window_s))
        if hits > limit:
            raise code(retry_after=max(1, int(left + 0.999)))

    async def _sweep_if_due(self, conn: asyncpg.Connection) -> None:
        now = time.monotonic()
        if now - self._last_sweep >= SWEEP_EVERY_SECONDS:
            self._last_sweep = now
            await conn.execute(SWEEP)
