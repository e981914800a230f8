"""Objects as files under the data folder: objects/<2 hex>/<version>.

A write arrives as a finished, fsynced temporary file in the same file system and is renamed into
place (atomic), then the folder is fsynced: after a crash a version is either whole or absent."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from localbase.storage.backend import CHUNK

_VERSION = re.compile(r"^[0-9a-f]{32}$")
SMALL_READ = 64 * 1024


class LocalBackend:
    def __init__(self, root: Path):
        self.root = root

    async def start(self) -> None:
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)

    async def close(self) -> None:
        return None

    def path(self, version: str) -> Path:
        """The file of a version; the id is checked, so no row can point outside the folder."""
        if not _VERSION.match(version):
            raise ValueError(f"not a version id: {version[:40]!r}")
        return self.root / version[:2] / version

    async def put(self, version: str, source: Path) -> None:
        target = self.path(version)
        await asyncio.to_thread(_place, source, target)

    async def read(self, version: str, start: int, end: int) -> AsyncIterator[bytes]:
        if end - start <= SMALL_READ:  # from the page cache this is quicker than a trip to a thread
            with open(self.path(version), "rb") as small:
                small.seek(start)
                chunk = small.read(end - start)
            if len(chunk) < end - start:
                raise OSError(f"object version {version} is shorter than its row says")
            yield chunk
            return
        handle = await asyncio.to_thread(open, self.path(version), "rb")
        try:
            if start:
                handle.seek(start)
            left = end - start
            while left > 0:
                chunk = await asyncio.to_thread(handle.read, min(CHUNK, left))
                if not chunk:
                    raise OSError(f"object version {version} is shorter than its row says")
                left -= len(chunk)
                yield chunk
        finally:
            handle.close()

    async def copy(self, source: str, target: str) -> None:
        await asyncio.to_thread(_copy, self.path(source), self.path(target))

    async def delete(self, versions: list[str]) -> None:
        def remove() -> None:
            for version in versions:
                self.path(version).unlink(missing_ok=True)
        if versions:
            await asyncio.to_thread(remove)

    async def versions(self, older_than: float) -> list[str]:
        def scan() -> list[str]:
            found: list[str] = []
            if not self.root.is_dir():
                return found
            for folder in self.root.iterdir():
                if not folder.is_dir():
                    continue
                for entry in os.scandir(folder):
                    if entry.stat().st_mtime >= older_than:
                        continue
                    if _VERSION.match(entry.name):
                        found.append(entry.name)
                    elif entry.name.endswith(".partial"):  # a copy cut short by a crash
                        os.unlink(entry.path)
            return found
        return await asyncio.to_thread(scan)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _place(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    _fsync_dir(target.parent)


def _copy(source: Path, target: Path) -> None:
    """A copy written next to the target (in-kernel where the OS can), fsynced, renamed into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    try:
        shutil.copyfile(source, partial)
        fd = os.open(partial, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
