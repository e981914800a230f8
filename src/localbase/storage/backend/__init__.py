"""Where object bytes live: files under the data folder (local) or an S3-compatible store.

Objects are stored by version id (a new UUID per write), never by key: a key never becomes a file
path or an S3 key, an upload never overwrites bytes a reader may be streaming, and a move is a
change of row only. The row in storage.objects names the version that is current."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

CHUNK = 1024 * 1024  # bytes read per step when streaming an object out


class Backend(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def put(self, version: str, source: Path) -> None:
        """Make the finished file `source` (already on disk, flushed) the bytes of `version`,
        durably, and take it away; when this returns the version is readable."""

    def read(self, version: str, start: int, end: int) -> AsyncIterator[bytes]:
        """The bytes [start, end) of `version`, in chunks."""

    async def copy(self, source: str, target: str) -> None:
        """Store `source`'s bytes again as version `target`."""

    async def delete(self, versions: list[str]) -> None:
        """Remove these versions; absent ones are no error."""

    async def versions(self, older_than: float) -> list[str]:
        """Stored versions last written before `older_than` (a time.time()), for the orphan sweep."""


def make_backend(config) -> Backend:
    if config.backend == "s3":
        from localbase.storage.backend.s3 import S3Backend
        return S3Backend(config.s3)
    from localbase.storage.backend.local import LocalBackend
    return LocalBackend(config.objects_dir)
