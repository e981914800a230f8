"""Scheduled dumps while `localbase start` runs, when [backup] schedule is set.

The next dump is due one interval after the newest scheduled dump in the folder (so a restart
neither skips one nor dumps again at once); with none there yet, shortly after start. pg_dump runs
as a child process (the event loop is not blocked); a failure is logged and retried sooner.
Only the newest `keep` scheduled dumps are kept. /metrics reports the last success and failures.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from localbase.backup import tools
from localbase.backup.config import PREFIX, BackupConfig
from localbase.gateway import metrics
from localbase.process import tasks, workers

log = logging.getLogger("localbase.backup")
FIRST_DELAY_MAX = 30.0   # seconds after start for the first dump when there is none yet
RETRY_MAX = 300.0        # seconds before a failed dump is tried again


@dataclass
class BackupStats:
    successes: int = 0
    failures: int = 0
    last_success: float | None = None
    last_duration: float | None = None
    last_size: int | None = None
    last_file: str | None = None
    last_error: str | None = None


def scheduled_dumps(folder: Path, database: str) -> list[Path]:
    """This database's scheduled dumps, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f"{PREFIX}{database}-*.dump"), key=lambda p: p.name)


def dump_name(database: str, when: float | None = None) -> str:
    stamp = datetime.fromtimestamp(when or time.time(), UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{PREFIX}{database}-{stamp}.dump"


def prune(folder: Path, database: str, keep: int) -> list[Path]:
    dumps = scheduled_dumps(folder, database)
    gone = dumps[:-keep] if len(dumps) > keep else []
    for path in gone:
        path.unlink(missing_ok=True)
    return gone


class Scheduler:
    def __init__(self, config: BackupConfig, url: str):
        self.config = config
        self.url = url
        self.database = tools.Connection.from_url(url).database
        self.stats = BackupStats()
        self._task: asyncio.Task | None = None

    def first_delay(self) -> float:
        assert self.config.interval is not None
        dumps = scheduled_dumps(self.config.dir, self.database)
        if not dumps:
            return min(self.config.interval, FIRST_DELAY_MAX)
        age = time.time() - dumps[-1].stat().st_mtime
        return max(0.0, self.config.interval - age)

    async def run_once(self) -> Path:
        started = time.monotonic()
        target = self.config.dir / dump_name(self.database)
        path = await tools.dump_async(self.url, target)
        took = time.monotonic() - started
        size = path.stat().st_size
        self.stats.successes += 1
        self.stats.last_success, self.stats.last_duration, self.stats.last_size = time.time(), took, size
        self.stats.last_file = str(path)
        removed = prune(self.config.dir, self.database, self.config.keep)
        log.info("backup written to %s (%d bytes, %.1fs)", path, size, took, extra={
            "event": "backup", "file": str(path), "bytes": size, "seconds": round(took, 3),
            "pruned": [p.name for p in removed]})
        return path

    async def _loop(self) -> None:
        assert self.config.interval is not None
        delay = self.first_delay()
        while True:
            await asyncio.sleep(delay)
            try:
                await self.run_once()
                delay = self.config.interval
            except Exception as exc:  # logged, counted and tried again: the schedule goes on
                self.stats.failures += 1
                self.stats.last_error = str(exc)
                delay = min(self.config.interval, RETRY_MAX)
                log.error("scheduled backup failed (next try in %.0fs): %s", delay, exc,
                          exc_info=not isinstance(exc, tools.BackupError), extra={"event": "backup_failed"})

    def start(self) -> None:
        self.config.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.config.dir, 0o700)
        self._task = asyncio.create_task(self._loop(), name="localbase-backup")
        log.info("scheduled backups every %s to %s (keeping %d)", self.config.schedule, self.config.dir,
                 self.config.keep, extra={"event": "backup_scheduled"})

    async def stop(self) -> None:
        await tasks.cancel(self._task)
        self._task = None


def _collect(w, state) -> None:
    scheduler: Scheduler | None = getattr(state, "backup", None)
    if scheduler is None:
        return
    s = scheduler.stats
    w.family("localbase_backup_successes_total", "counter", "Scheduled backups written.")
    w.sample("localbase_backup_successes_total", s.successes)
    w.family("localbase_backup_failures_total", "counter", "Scheduled backups that failed.")
    w.sample("localbase_backup_failures_total", s.failures)
    if s.last_success is not None:
        w.family("localbase_backup_last_success_timestamp_seconds", "gauge", "When the last backup finished.")
        w.sample("localbase_backup_last_success_timestamp_seconds", round(s.last_success, 3))
        w.family("localbase_backup_last_size_bytes", "gauge", "Size of the last backup.")
        w.sample("localbase_backup_last_size_bytes", s.last_size or 0)
        w.family("localbase_backup_last_duration_seconds", "gauge", "How long the last backup took.")
        w.sample("localbase_backup_last_duration_seconds", round(s.last_duration or 0, 3))


async def startup(app) -> None:
    """From the gateway's lifespan: start the schedule when [backup] schedule is set (in worker
    0 only, when there are several: one dump per interval for the deployment)."""
    config = app.state.services.backup
    app.state.backup = None
    if not config.scheduled or not workers.current().first:
        return
    scheduler = Scheduler(config, app.state.db.admin_dsn)
    scheduler.start()
    app.state.backup = scheduler
    metrics.add_collector(_collect)


async def shutdown(app) -> None:
    scheduler: Scheduler | None = getattr(app.state, "backup", None)
    if scheduler is not None:
        app.state.backup = None
        await scheduler.stop()
