"""The sweep after a crash: a gone process's workspace (its lock free) loses its half-written
uploads and the versions it stored without a row, while a live process's workspace and every
version a row names stay. Against the test server's real database."""

from __future__ import annotations

import uuid

from localbase.database.pool import Database
from localbase.storage.config import StorageConfig
from localbase.storage.service import StorageService
from localbase.storage.workspace import Workspace, abandoned
from tests.localbase.helpers import sql


def _stored(root, version: str) -> bool:
    return (root / "objects" / version[:2] / version).exists()


async def test_sweep_cleans_what_a_crashed_process_left(storage_server, service, bucket, tmp_path):
    root = tmp_path / "storage"
    db = Database(rest_dsn="", auth_dsn="", admin_dsn=storage_server.db_url)
    live = StorageService(StorageConfig(root=root), db, "x" * 40)
    await live.start(sweep=False)
    # a process that crashed: its workspace exists, nobody holds its lock
    crashed = Workspace(root / "tmp")
    crashed.path.mkdir(parents=True)
    (crashed.path / "half-written.upload").write_bytes(b"partial")
    orphan, committed = uuid.uuid4().hex, uuid.uuid4().hex
    for version in (orphan, committed):
        crashed.pending(version)
        (root / "objects" / version[:2]).mkdir(parents=True, exist_ok=True)
        (root / "objects" / version[:2] / version).write_bytes(b"bytes")
    sql(storage_server, "insert into storage.objects (bucket_id, name, version) values ($1, 'c.txt', $2)",
        bucket, committed)
    # the live process is receiving an upload right now
    (live.tmp / "in-progress.upload").write_bytes(b"still coming")
    live.workspace.pending("f" * 32)

    assert [folder for folder, _ in abandoned(root / "tmp")] == [crashed.path]
    removed = await live.sweep(before=0)
    assert removed == {"temporary": 1, "orphans": 1, "resumable": 0}
    assert not crashed.path.exists()
    assert not _stored(root, orphan) and _stored(root, committed)
    assert (live.tmp / "in-progress.upload").exists() and (live.tmp / f"{'f' * 32}.pending").exists()
    await live.close()
    assert not live.tmp.exists()  # a clean stop leaves no workspace behind
