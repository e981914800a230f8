"""The storage service of one API process: its settings, the backend, its workspace, and the
housekeeping that keeps files and rows in agreement: what a crashed process left (half-written
uploads, versions stored without their row: workspace.py) is removed at start; every hour, expired
resumable uploads and, as a backstop, versions no row has named for an hour."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from localbase.process import tasks
from localbase.storage.backend import Backend, make_backend
from localbase.storage.config import TUS_EXPIRY_S, StorageConfig
from localbase.storage.workspace import PENDING, Workspace, abandoned

log = logging.getLogger("localbase.storage")

SWEEP_EVERY_S = 3600
SETTLE_S = 3600  # an unnamed version this old is an orphan (a write commits its row within seconds)


@dataclass
class StorageService:
    config: StorageConfig
    db: object
    jwt_secret: str
    backend: Backend = field(init=False)
    workspace: Workspace = field(init=False)
    _sweeper: asyncio.Task | None = None

    def __post_init__(self) -> None:
        self.backend = make_backend(self.config)
        self.workspace = Workspace(self.config.tmp_dir)

    @property
    def tmp(self) -> Path:
        """Where this process receives uploads."""
        return self.workspace.path

    async def start(self, *, sweep: bool) -> None:
        for folder in (self.config.tus_dir, self.config.cache_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.workspace.open()
        await self.backend.start()
        if sweep:
            await self.sweep(time.time() - SETTLE_S)
            self._sweeper = asyncio.create_task(self._sweep_forever())

    async def close(self) -> None:
        await tasks.cancel(self._sweeper)
        await self.backend.close()
        self.workspace.close()

    # -- bytes ----------------------------------------------------------------------------------
    async def store(self, path: Path) -> str:
        """Store a finished temporary file as a new version, marked pending until `settled`."""
        try:
            return await self._new_version(lambda version: self.backend.put(version, path))
        finally:
            path.unlink(missing_ok=True)  # moved into place, or not to be kept

    async def duplicate(self, version: str) -> str:
        """Store a version's bytes again as a new version, marked pending until `settled`."""
        return await self._new_version(lambda copy: self.backend.copy(version, copy))

    async def _new_version(self, write: Callable[[str], Awaitable[None]]) -> str:
        version = uuid.uuid4().hex
        self.workspace.pending(version)
        try:
            await write(version)
        except BaseException:
            await self.forget([version])
            self.workspace.settled(version)
            raise
        return version

    def settled(self, version: str) -> None:
        """The version's row committed, or the version is gone: no longer a possible orphan."""
        self.workspace.settled(version)

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
        """Remove what crashed processes left (their half-written uploads, the versions they stored
        without committing a row), resumable uploads past their expiry, and versions no row names
        that were written before `before`."""
        removed = {"temporary": 0, "orphans": 0, "resumable": 0}
        for folder, pending in await asyncio.to_thread(abandoned, self.config.tmp_dir):
            removed["orphans"] += await self._remove_unnamed(pending)
            removed["temporary"] += sum(1 for p in folder.iterdir() if not p.name.endswith(PENDING))
            await asyncio.to_thread(shutil.rmtree, folder)
        removed["resumable"] = await asyncio.to_thread(_remove_older, self.config.tus_dir, time.time() - TUS_EXPIRY_S)
        removed["orphans"] += await self._remove_unnamed(await self.backend.versions(before))
        if any(removed.values()):
            log.info("storage: swept %(temporary)d temporary file(s), %(orphans)d orphaned version(s), "
                     "%(resumable)d expired resumable upload(s)", removed)
        return removed

    async def _remove_unnamed(self, versions: list[str]) -> int:
        """Remove those of `versions` that no row names; how many went."""
        count = 0
        for start in range(0, len(versions), 1000):
            batch = versions[start:start + 1000]
            conn = await self.db.admin_connection()  # type: ignore[attr-defined]
            try:
                named = {row["version"] for row in await conn.fetch(
                    "select version from storage.objects where version = any($1::text[])", batch)}
            finally:
                await conn.close()
            orphans = [v for v in batch if v not in named]
            if orphans:
                await self.backend.delete(orphans)
                count += len(orphans)
        return count


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
