"""The storage service of one API process: its settings, the backend, and the housekeeping that
keeps files and rows in agreement (versions no row names, temporary and expired resumable uploads
are swept: at start for what a previous, crashed process left, then every hour)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from localbase import tasks
from localbase.storage.backend import Backend, make_backend
from localbase.storage.config import TUS_EXPIRY_S, StorageConfig

log = logging.getLogger("localbase.storage")

SWEEP_EVERY_S = 3600
SETTLE_S = 3600  # an unnamed version this old is an orphan (a write commits its row within seconds)


@dataclass
class StorageService:
    config: StorageConfig
    db: object
    jwt_secret: str
    backend: Backend = field(init=False)
    started_at: float = field(default_factory=time.time)
    _sweeper: asyncio.Task | None = None

    def __post_init__(self) -> None:
        self.backend = make_backend(self.config)

    async def start(self, *, sweep: bool) -> None:
        for folder in (self.config.tmp_dir, self.config.tus_dir, self.config.cache_dir):
            folder.mkdir(parents=True, exist_ok=True)
        await self.backend.start()
        if sweep:
            # What a previous process left is older than this one; uploads under way now are not.
            before = self.started_at if self.config.backend == "local" else self.started_at - SETTLE_S
            await self.sweep(before)
            self._sweeper = asyncio.create_task(self._sweep_forever())

    async def close(self) -> None:
        await tasks.cancel(self._sweeper)
        await self.backend.close()

    # -- bytes ----------------------------------------------------------------------------------
    async def store(self, path: Path) -> str:
        """Store a finished temporary file as a new version; returns the version id."""
        version = uuid.uuid4().hex
        try:
            await self.backend.put(version, path)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return version

    async def duplicate(self, version: str) -> str:
        copy = uuid.uuid4().hex
        await self.backend.copy(version, copy)
        return copy

    async def forget(self, versions: list[str]) -> None:
        """Remove versions no row names any more. A failure here loses nothing (the sweep removes
        them later), so it is logged, not answered."""
        if not versions:
            return
        try:
            await self.backend.delete(versions)
        except (OSError, ValueError, RuntimeError) as exc:
            log.warning("storage: could not remove %d replaced version(s), the sweep will: %s", len(versions), exc)
        from localbase.storage import transform
        await asyncio.to_thread(transform.drop_cached, self.config.cache_dir, versions)

    # -- housekeeping -----------------------------------------------------------------------------
    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY_S)
            try:
                await self.sweep(time.time() - SETTLE_S)
            except Exception:  # noqa: BLE001 - logged; the next round tries again
                log.exception("storage: sweep failed")

    async def sweep(self, before: float) -> dict[str, int]:
        """Remove temporary files and versions no row names that were last written before `before`,
        and resumable uploads unfinished for longer than their expiry."""
        removed = {"temporary": 0, "orphans": 0, "resumable": 0}
        removed["temporary"] = await asyncio.to_thread(_remove_older, self.config.tmp_dir, before)
        removed["resumable"] = await asyncio.to_thread(_remove_older, self.config.tus_dir, time.time() - TUS_EXPIRY_S)
        stored = await self.backend.versions(before)
        for start in range(0, len(stored), 1000):
            batch = stored[start:start + 1000]
            conn = await self.db.admin_connection()  # type: ignore[attr-defined]
            try:
                named = {row["version"] for row in await conn.fetch(
                    "select version from storage.objects where version = any($1::text[])", batch)}
            finally:
                await conn.close()
            orphans = [v for v in batch if v not in named]
            if orphans:
                await self.backend.delete(orphans)
                removed["orphans"] += len(orphans)
        if any(removed.values()):
            log.info("storage: swept %(temporary)d temporary file(s), %(orphans)d orphaned version(s), "
                     "%(resumable)d expired resumable upload(s)", removed)
        return removed


def _remove_older(folder: Path, before: float) -> int:
    count = 0
    if not folder.is_dir():
        return 0
    for entry in folder.iterdir():
        try:
            if entry.stat().st_mtime < before:
                if entry.is_dir():
                    for inner in entry.iterdir():
                        inner.unlink(missing_ok=True)
                    entry.rmdir()
                else:
                    entry.unlink(missing_ok=True)
                count += 1
        except FileNotFoundError:
            continue
    return count
