"""Each API process's own folder under storage/tmp: the uploads it is receiving, and a marker per
version it stored but whose row is not committed yet. The process holds a lock on the folder for
its whole life, so a folder whose lock can be taken belongs to a process that is gone (a crash,
kill -9): its temporary files are half-written uploads, and its markers name the only versions that
can be orphans. The sweep cleans exactly those, never what a live process (another worker, a
respawned one) is still writing."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

PENDING = ".pending"
STALE_MAKING_S = 3600  # a hidden folder this old is a workspace whose making was cut short


class Workspace:
    def __init__(self, tmp_root: Path):
        self.root = tmp_root
        self.path = tmp_root / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._fd: int | None = None

    def open(self) -> None:
        """Made under a hidden name, locked, then renamed: a sweeper never sees it unlocked."""
        making = self.root / f".{self.path.name}"
        making.mkdir(parents=True)
        self._fd = os.open(making, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held until this process ends
        os.rename(making, self.path)

    def close(self) -> None:
        if self._fd is not None:
            shutil.rmtree(self.path)
            os.close(self._fd)
            self._fd = None

    def pending(self, version: str) -> None:
        """Mark a version stored, its row not yet committed."""
        (self.path / f"{version}{PENDING}").touch()

    def settled(self, version: str) -> None:
        (self.path / f"{version}{PENDING}").unlink(missing_ok=True)


@contextlib.contextmanager
def _owned_by_nobody(folder: Path) -> Iterator[bool]:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False  # a live process holds it
            return
        yield True
    finally:
        os.close(fd)


def abandoned(tmp_root: Path) -> list[tuple[Path, list[str]]]:
    """Folders of processes that are gone, with the versions their markers name."""
    found: list[tuple[Path, list[str]]] = []
    if not tmp_root.is_dir():
        return found
    for folder in tmp_root.iterdir():
        try:
            if folder.name.startswith(".") and time.time() - folder.stat().st_mtime < STALE_MAKING_S:
                continue  # a workspace being made (locked an instant later)
            if not folder.is_dir():
                folder.unlink(missing_ok=True)  # a stray file (an older layout): nobody writes it
                continue
            with _owned_by_nobody(folder) as gone:
                if gone:
                    found.append((folder, [p.name[:-len(PENDING)] for p in folder.glob(f"*{PENDING}")]))
        except FileNotFoundError:
            continue  # removed meanwhile (another sweeper, a clean stop)
    return found
