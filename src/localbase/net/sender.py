"""The sender: committed requests of `net.http_request_queue` out over HTTP, responses into
`net._http_response`.

Each lane loops: in one transaction it claims up to `batch_size` queued requests, oldest first,
with FOR UPDATE SKIP LOCKED (so no two lanes, workers or servers ever send the same request),
sends them concurrently, each bounded by its own `timeout_milliseconds`, then stores the responses
and deletes the requests before it commits. A request whose sender dies before that commit stays
queued and is sent again by the next sender (at least once; pg_net itself deletes a request before
sending it, at most once). The notification `net.wake()` sends at commit wakes one idle lane (the
first, when every lane is busy: it looks again after its batch); a lane that claimed a full batch
wakes another, so the lanes join in as the queue grows. The first lane also polls every
`poll_seconds`; the others wait to be woken, so an idle server holds one connection for its lanes,
not one per lane. Expired responses are deleted every PRUNE_SECONDS.

Outcomes as pg_net records them: an answer (any status) -> status_code, content_type, headers,
content (NULL when empty), timed_out false; no answer in time -> timed_out true and "Timeout of N
ms reached..." in error_msg; any other failure (refused, DNS, bad URL) -> error_msg.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg
import orjson

from localbase.database.listener import Listener
from localbase.database.pool import UNAVAILABLE
from localbase.net.config import NetConfig
from localbase.process import tasks

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("localbase.net")
CHANNEL = "localbase_net"
APPLICATION = "localbase-net"
USER_AGENT = "pg_net/localbase"
PRUNE_SECONDS = 10.0
DB_ERRORS = (*UNAVAILABLE, asyncpg.PostgresError, asyncpg.InterfaceError)

CLAIM = """
select id, method, url, headers, body, timeout_milliseconds
  from net.http_request_queue order by id limit $1 for update skip locked
"""
STORE = """
with saved as (
  insert into net._http_response (id, status_code, content_type, headers, content, timed_out, error_msg)
  select * from unnest($1::bigint[], $2::int[], $3::text[], $4::jsonb[], $5::text[], $6::bool[], $7::text[])
)
delete from net.http_request_queue where id = any($1::bigint[])
"""
PRUNE = """
delete from net._http_response where ctid = any(array(
  select ctid from net._http_response
   where created < now() - coalesce(nullif(current_setting('pg_net.ttl', true), ''), $1)::interval
   order by created limit $2))
"""


@dataclass
class Outcome:
    id: int
    status_code: int | None = None
    content_type: str | None = None
    headers: dict[str, str] | None = None
    content: str | None = None
    timed_out: bool = False
    error_msg: str | None = None


def _text(value: str | None) -> str | None:
    """PostgreSQL's text holds no NUL character (pg_net's C strings end there too)."""
    return value.split("\x00", 1)[0] if value else None


async def _init(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads,
                                  schema="pg_catalog")


class Sender:
    def __init__(self, dsn: str, config: NetConfig, listener: Listener | None = None):
        """`listener`: the server's shared LISTEN connection (database/listener.py); without one,
        the sender opens its own."""
        self.dsn = dsn
        self.config = config
        self._listener = listener
        self._own_listener = listener is None
        self._unlisten: Callable[[], Awaitable[None]] | None = None
        self.stats: Counter[str] = Counter()
        self.pool: asyncpg.Pool | None = None
        self.client: httpx.AsyncClient | None = None
        self._wakes = [asyncio.Event() for _ in range(config.lanes)]
        self._idle: set[int] = set()  # lanes waiting to be woken
        self._tasks: list[asyncio.Task] = []

    def _http(self) -> httpx.AsyncClient:
        """The HTTP client, made for the first request sent (httpx is not imported before)."""
        if self.client is None:
            import httpx
            self.client = httpx.AsyncClient(follow_redirects=False, trust_env=False, timeout=None,
                                            limits=httpx.Limits(max_connections=self.config.lanes * 50))
        return self.client

    async def start(self) -> None:
        self.pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=self.config.lanes, init=_init,
                                              server_settings={"application_name": APPLICATION})
        if self._listener is None:
            self._listener = Listener(self.dsn, APPLICATION)
        # whatever was queued while nothing listened is looked for at every (re)connection
        self._unlisten = await self._listener.listen(CHANNEL, self.wake, lambda _again: self.wake())
        self._tasks = [asyncio.create_task(self._prune(), name="net-prune"),
                       *(asyncio.create_task(self._lane(i), name=f"net-lane-{i}") for i in range(self.config.lanes))]
        log.info("net: sending pg_net requests (%d lanes of %d)", self.config.lanes, self.config.batch_size)

    async def stop(self) -> None:
        if self._unlisten is not None:
            await self._unlisten()
            self._unlisten = None
        if self._own_listener and self._listener is not None:
            await self._listener.stop()
        for task in self._tasks:
            await tasks.cancel(task)
        if self.pool is not None:
            await self.pool.close()
        if self.client is not None:
            await self.client.aclose()

    def wake(self, *_: Any) -> None:
        """Queued requests to send: one idle lane (the first lane when none is idle) looks."""
        lane = min(self._idle, default=0)
        self._idle.discard(lane)  # woken: the next wake-up goes to another idle lane
        self._wakes[lane].set()

    # -- the loops -------------------------------------------------------------------------------
    async def _lane(self, index: int) -> None:
        wake = self._wakes[index]
        poll = self.config.poll_seconds if index == 0 else None  # the others wait to be woken
        backoff = 0.2
        await self._wait(index, poll)  # the wake-up connection's first wake() starts the first lane
        while True:
            wake.clear()
            try:
                sent = await self.send_batch()
                backoff = 0.2
            except DB_ERRORS as exc:
                log.warning("net: lane %d could not reach the queue (%s); retrying in %.1fs", index, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if sent >= self.config.batch_size:
                if self._idle:
                    self.wake()  # more may be waiting: another lane joins in
                continue
            await self._wait(index, poll)

    async def _wait(self, index: int, timeout: float | None) -> None:
        self._idle.add(index)
        try:
            await asyncio.wait_for(self._wakes[index].wait(), timeout)
        except TimeoutError:
            pass
        finally:
            self._idle.discard(index)

    async def send_batch(self) -> int:
        """Claim, send and answer one batch; returns how many requests it held."""
        assert self.pool is not None
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(CLAIM, self.config.batch_size)
            if not rows:
                return 0
            outcomes = await asyncio.gather(*(self.send(row) for row in rows))
            await conn.execute(STORE, [o.id for o in outcomes], [o.status_code for o in outcomes],
                               [o.content_type for o in outcomes], [o.headers for o in outcomes],
                               [o.content for o in outcomes], [o.timed_out for o in outcomes],
                               [o.error_msg for o in outcomes])
        return len(rows)

    async def send(self, row: asyncpg.Record) -> Outcome:
        import httpx
        client = self._http()
        timeout_ms = row["timeout_milliseconds"]
        headers = {str(k): str(v) for k, v in (row["headers"] or {}).items()}
        if not any(k.lower() == "user-agent" for k in headers):
            headers["User-Agent"] = USER_AGENT
        started = time.perf_counter()
        try:
            response = await asyncio.wait_for(
                client.request(row["method"].upper(), row["url"], headers=headers, content=row["body"]),
                max(timeout_ms, 0) / 1000)
        except TimeoutError:
            took = (time.perf_counter() - started) * 1000
            self.stats["timed_out"] += 1
            return Outcome(row["id"], timed_out=True,
                           error_msg=f"Timeout of {timeout_ms} ms reached. Total time: {took:.6f} ms")
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            self.stats["failed"] += 1
            return Outcome(row["id"], error_msg=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        self.stats["answered"] += 1
        return Outcome(row["id"], status_code=response.status_code, content_type=response.headers.get("content-type"),
                       headers={k: _text(v) or "" for k, v in response.headers.items()},
                       content=_text(response.text))

    async def _prune(self) -> None:
        while True:
            await asyncio.sleep(PRUNE_SECONDS)  # first after a while: not beside the lanes' first look
            try:
                async with self.pool.acquire() as conn:  # type: ignore[union-attr]
                    status = await conn.execute(PRUNE, self.config.ttl, max(self.config.batch_size, 1000))
                self.stats["pruned"] += int(status.rsplit(" ", 1)[-1])
            except DB_ERRORS as exc:
                log.warning("net: pruning old responses failed (will retry): %s", exc)
