"""A first-come, first-served gate in front of a connection pool.

asyncpg's pool hands out connections through an asyncio.Queue, where a newly arriving request can
take a connection released for a woken waiter, which then queues again at the back: under load a
few requests wait many times longer than the rest (a long p99 tail). The gate admits at most as
many requests as the pool has connections and hands every freed place straight to the longest
waiter, so the pool itself never makes anyone wait."""

from __future__ import annotations

import asyncio
from collections import deque


class GateTimeout(TimeoutError):
    """Waited `timeout` seconds for a place (every connection busy): PostgREST's PGRST003."""


class FairGate:
    def __init__(self, size: int, timeout: float | None = None):
        self._free = size
        self._waiters: deque[asyncio.Future] = deque()
        self.timeout = timeout

    def enter_now(self) -> bool:
        """Take a place if one is free and nobody waits (no await); False otherwise."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        return False

    async def __aenter__(self) -> None:
        if self.enter_now():
            return
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(self.timeout, self._expire, waiter) if self.timeout else None
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # it was handed a place just as it was cancelled: pass it on
            elif waiter in self._waiters:  # a release may already have passed over it
                self._waiters.remove(waiter)
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def _expire(self, waiter: asyncio.Future) -> None:
        if not waiter.done():
            waiter.set_exception(GateTimeout())
            self._waiters.remove(waiter)

    async def __aexit__(self, *exc) -> None:
        self._release()

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the place moves to this waiter; _free is unchanged
                return
        self._free += 1
