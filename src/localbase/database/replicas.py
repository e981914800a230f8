"""Read replicas (--db-read-url): REST reads go to a streaming replica of the primary when it is
sure to show what the caller may expect (docs/scale-out.md, "Read replicas").

The staleness rule, exactly:
- Every `POLL_SECONDS` this process takes the primary's WAL insert position L at a local time t
  (t read *before* asking), and each replica's replay position R. A replica is *fresh as of* the
  latest t whose L it has replayed (R >= L): it holds every transaction that had committed on the
  primary at that moment.
- A request that may write (any method but GET/HEAD/OPTIONS, on any service) marks its session -
  the JWT's session_id (else sub), or the client's address when there is no user - at the moment
  its response is ready (after its commit). Other nodes learn of the mark through NOTIFY (channel
  `localbase_writes`, keys hashed) and date it from when they hear it, which is after the commit.
- A GET (REST table read, or a read-only function) goes to a replica only if the replica is fresh
  as of a moment after its session's last mark (so it holds that session's writes), after the
  schema was last reloaded, and no older than [db] read_max_lag_seconds; and if the request does
  not carry `Prefer: tx=...`. Otherwise it goes to the primary. Marks are kept
  [db] read_your_writes_seconds (at least read_max_lag_seconds: an older mark no longer matters).
- A replica that cannot be reached, or fails a read as unavailable, serves nothing until it
  answers again; the read is retried on the primary.
What the rule does not cover: another session's writes may be up to read_max_lag_seconds old on
a replica; a mark made on another node reaches this one a NOTIFY later (well under a millisecond
on one network, but a read racing it may be served by a replica).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import math
import time
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field

import asyncpg

from localbase.database.notify import NotifyChannel
from localbase.database.pool import rest_pool
from localbase.database.rest_pool import RestPool
from localbase.nodes.config import ReadReplicaSettings
from localbase.process import tasks

log = logging.getLogger("localbase.database")
WRITES_CHANNEL = "localbase_writes"
POLL_SECONDS = 0.1
PROBE_TIMEOUT = 1.0
RETRY_SECONDS = 1.0  # an unreachable replica is tried again this often
MAX_MARKS = 100_000
PRIMARY_LSN = "select pg_current_wal_insert_lsn() - '0/0'::pg_lsn"
REPLAY_LSN = "select pg_is_in_recovery(), pg_last_wal_replay_lsn() - '0/0'::pg_lsn"


def session_key(session: str | None, client: str | None) -> str:
    """What a session's marks are kept under: a short hash (keys travel over NOTIFY)."""
    raw = f"s:{session}" if session else f"a:{client or ''}"
    return hashlib.blake2b(raw.encode(), digest_size=8).hexdigest()


def fresh_as_of(samples, replayed: int) -> float:
    """The latest sample time t whose primary position a replica that replayed `replayed` has
    reached (it holds everything committed by t); -inf when it reached none of them."""
    for taken, lsn in reversed(samples):
        if lsn <= replayed:
            return taken
    return -math.inf


class NotAReplica(RuntimeError):
    """A read URL names a server that is not in recovery (not a standby of the primary)."""


@dataclass
class Replica:
    index: int
    dsn: str
    rest_pool: RestPool | None = None
    probe: asyncpg.Connection | None = None
    fresh_as_of: float = -math.inf  # local monotonic time: everything committed by then is here
    replay_lsn: int = 0
    healthy: bool = False
    retry_at: float = 0.0  # not reachable: when to try connecting again
    connecting: asyncio.Task | None = None
    stats: Counter[str] = field(default_factory=Counter)

    def lag_seconds(self, now: float) -> float:
        return now - self.fresh_as_of


class ReadRouter:
    def __init__(self, primary_dsn: str, replica_dsns: list[str], config: ReadReplicaSettings, *,
                 pool_size: int = 10, connect_timeout: float = 5.0, pool_timeout: float = 10.0):
        self.primary_dsn = primary_dsn
        self.replicas = [Replica(i, dsn) for i, dsn in enumerate(replica_dsns)]
        self.config = config
        self.max_lag = config.max_lag_seconds
        self.keep = max(config.read_your_writes_seconds, config.max_lag_seconds)
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self.pool_timeout = pool_timeout
        self.marks: OrderedDict[str, float] = OrderedDict()  # session key -> last write (monotonic)
        self.everything = -math.inf  # a write that concerns every session (a schema reload)
        self.schema_version = -1  # the REST schema cache's version last seen (rest/replica_reads.py)
        self.samples: deque[tuple[float, int]] = deque()  # (t, primary LSN), oldest first
        self.stats: Counter[str] = Counter()
        self.link = NotifyChannel(primary_dsn, WRITES_CHANNEL, self._heard, name="read_marks",
                                  application_name="localbase-read-marks", stats=self.stats)
        self._primary: asyncpg.Connection | None = None
        self._turn = itertools.count()
        self._task: asyncio.Task | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    async def open(self) -> None:
        """Connect to every replica (one not answering yet is tried again by the poll; one that is
        not a standby stops the start: NotAReplica)."""
        for replica in self.replicas:
            try:
                await self._connect(replica, first=True)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.warning("read replica %d not reachable yet (%s); reads go to the primary", replica.index, exc)
                await self._disconnect(replica)
        await self.link.start(5)
        self._task = asyncio.create_task(self._poll(), name="read-replicas")

    async def close(self) -> None:
        await tasks.cancel(self._task)
        for replica in self.replicas:
            await tasks.cancel(replica.connecting)
        await self.link.stop(0.5)
        for replica in self.replicas:
            await self._disconnect(replica)
        if self._primary is not None:
            self._primary.terminate()

    async def _connect(self, replica: Replica, *, first: bool = False) -> None:
        probe = await asyncpg.connect(replica.dsn, timeout=self.connect_timeout,
                                      server_settings={"application_name": "localbase-replica-probe"})
        if not await probe.fetchval("select pg_is_in_recovery()"):
            await probe.close()
            raise NotAReplica(f"read replica {replica.index} (--db-read-url) is not a standby: it is not in recovery, "
                              f"so it is not a replica of the primary")
        replica.probe = probe
        replica.rest_pool = await rest_pool(replica.dsn, self.pool_size, connect_timeout=self.connect_timeout,
                                            wait_timeout=self.pool_timeout,
                                            application_name="localbase-rest-replica").open()
        if not first:
            log.info("read replica %d answers again", replica.index)

    async def _disconnect(self, replica: Replica) -> None:
        replica.healthy = False
        replica.fresh_as_of = -math.inf
        probe, replica.probe = replica.probe, None
        if probe is not None:
            probe.terminate()
        pool, replica.rest_pool = replica.rest_pool, None
        if pool is not None:
            pool.terminate()

    # -- marks -----------------------------------------------------------------------------------
    def wrote(self, key: str) -> None:
        """A request of session `key` may have written (its response is ready: it committed)."""
        self._mark(key, time.monotonic())
        self.link.send([key])

    def wrote_everything(self) -> None:
        """Every session must see what was just written (the schema changed)."""
        self.everything = time.monotonic()

    def _mark(self, key: str, when: float) -> None:
        self.marks[key] = when
        self.marks.move_to_end(key)
        cutoff = when - self.keep
        while self.marks and (len(self.marks) > MAX_MARKS or next(iter(self.marks.values())) < cutoff):
            self.marks.popitem(last=False)

    def _heard(self, payload: str) -> None:
        """Another process's mark: dated now, which is after its commit."""
        self._mark(payload, time.monotonic())
        self.stats["marks_heard"] += 1

    # -- choosing --------------------------------------------------------------------------------
    def reader(self, key: str) -> Replica | None:
        """A replica that may serve session `key`'s read now, or None (the primary)."""
        now = time.monotonic()
        seen = max(self.marks.get(key, -math.inf), self.everything)
        usable = [r for r in self.replicas
                  if r.healthy and r.fresh_as_of > seen and now - r.fresh_as_of <= self.max_lag]
        if not usable:
            self.stats["reads_primary"] += 1
            return None
        replica = usable[next(self._turn) % len(usable)]
        replica.stats["reads"] += 1
        self.stats["reads_replica"] += 1
        return replica

    def failed(self, replica: Replica) -> None:
        """A read found `replica` unavailable: no more reads there until the poll reaches it."""
        replica.healthy = False
        self.stats["reads_fallback"] += 1

    # -- polling ---------------------------------------------------------------------------------
    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                await self._sample_primary()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                if self._primary is not None:
                    self._primary.terminate()
                    self._primary = None
                log.warning("read replicas: cannot read the primary's position (%s)", exc)
                continue
            await asyncio.gather(*(self._poll_replica(r) for r in self.replicas))

    async def _sample_primary(self) -> None:
        if self._primary is None or self._primary.is_closed():
            self._primary = await asyncpg.connect(self.primary_dsn, timeout=self.connect_timeout,
                                                  server_settings={"application_name": "localbase-replica-probe"})
        taken = time.monotonic()  # before asking: whatever had committed by then is at or below the answer
        lsn = int(await self._primary.fetchval(PRIMARY_LSN, timeout=PROBE_TIMEOUT))
        self.samples.append((taken, lsn))
        horizon = taken - self.keep - 1
        while len(self.samples) > 1 and self.samples[1][0] < horizon:
            self.samples.popleft()

    async def _reconnect(self, replica: Replica) -> None:
        """In the background (a host that does not answer must not hold up the others' polls)."""
        try:
            await self._disconnect(replica)
            await self._connect(replica)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError, NotAReplica) as exc:
            log.debug("read replica %d still unavailable: %s", replica.index, exc)
            await self._disconnect(replica)
            replica.retry_at = time.monotonic() + RETRY_SECONDS

    async def _poll_replica(self, replica: Replica) -> None:
        if replica.probe is None or replica.probe.is_closed():
            if time.monotonic() >= replica.retry_at and (replica.connecting is None or replica.connecting.done()):
                replica.connecting = asyncio.create_task(self._reconnect(replica))
            return
        try:
            recovering, replayed = await replica.probe.fetchrow(REPLAY_LSN, timeout=PROBE_TIMEOUT)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("read replica %d unavailable (%s); reads go to the primary", replica.index, exc)
            await self._disconnect(replica)
            replica.retry_at = time.monotonic() + RETRY_SECONDS
            return
        if not recovering:  # promoted: no longer a copy of this primary
            log.error("read replica %d left recovery (promoted?); it serves no more reads", replica.index)
            await self._disconnect(replica)
            return
        replica.replay_lsn = int(replayed or 0)
        replica.fresh_as_of = max(replica.fresh_as_of, fresh_as_of(self.samples, replica.replay_lsn))
        replica.healthy = True


def collect(w, state) -> None:
    """/metrics: where REST reads went, and how far behind each replica is (gateway.metrics)."""
    router: ReadRouter | None = getattr(state, "reads", None)
    if router is None:
        return
    w.family("localbase_rest_reads_total", "counter", "REST reads by the server that answered them.")
    w.sample("localbase_rest_reads_total", router.stats["reads_primary"], target="primary")
    w.sample("localbase_rest_reads_total", router.stats["reads_replica"], target="replica")
    w.family("localbase_read_replica_fallbacks_total", "counter", "Replica reads retried on the primary.")
    w.sample("localbase_read_replica_fallbacks_total", router.stats["reads_fallback"])
    w.family("localbase_read_replica_lag_seconds", "gauge",
             "How long ago the primary last stood where the replica has replayed to (-1: unavailable).")
    now = time.monotonic()
    for r in router.replicas:
        lag = r.lag_seconds(now) if r.healthy and r.fresh_as_of > -math.inf else -1
        w.sample("localbase_read_replica_lag_seconds", round(lag, 3), replica=str(r.index))
