"""PostgreSQL processes left on a data folder by a Localbase that lost track of them (killed,
crashed): found through /proc, stopped, and their stale lock files removed before a new start."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

log = logging.getLogger("localbase.database")


class StillRunning(RuntimeError):
    """A PostgreSQL on the folder that would not stop."""


def holders(pgdata: Path) -> list[int]:
    """Live processes working in this data folder: PostgreSQL's postmaster and every backend
    change into the data directory, so this finds a postmaster Localbase lost track of and the
    backends a killed postmaster left behind (still attached to its shared memory)."""
    target = os.path.realpath(pgdata)
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry.name}/cwd") == target and running(int(entry.name)):
                found.append(int(entry.name))
        except OSError:
            continue  # gone, or not ours to look at
    return found


def may_hold(pid: int, pgdata: Path) -> bool:
    """Whether `pid` may still be a PostgreSQL on this folder (when we cannot look, it may)."""
    if not running(pid):
        return False
    try:
        return os.readlink(f"/proc/{pid}/cwd") == os.path.realpath(pgdata)
    except FileNotFoundError:
        return False
    except OSError:
        return True


def clear(pgdata: Path, socket_lock: Path, orphan_wait: float = 10.0) -> None:
    """Make the folder ours before starting PostgreSQL on it:
    - a live postmaster on this folder that Localbase lost track of is stopped (fast shutdown);
    - backends a killed postmaster left behind leave by themselves once they notice (they
      must: PostgreSQL refuses to start while they hold the old shared memory); after
      `orphan_wait` seconds they are killed;
    - a postmaster.pid whose pid is dead, a zombie nobody reaped yet, or a recycled pid of
      another process is stale: PostgreSQL would refuse to start ("lock file already
      exists") for the last two, so it is removed once nothing runs in the folder; the same
      for the Unix socket's lock file."""
    pid_file = pgdata / "postmaster.pid"
    recorded = lock_pid(pid_file)
    found = holders(pgdata)
    if recorded is not None and recorded in found:
        log.warning("stopping a PostgreSQL (pid %d) left running on %s", recorded, pgdata)
        os.kill(recorded, signal.SIGINT)
        if not wait_exit(recorded, 30):
            raise StillRunning(f"a PostgreSQL (pid {recorded}) is running on {pgdata} and did not stop; "
                               f"stop it and start again")
        found = holders(pgdata)
    deadline = time.monotonic() + orphan_wait
    while found and time.monotonic() < deadline:
        time.sleep(0.05)
        found = holders(pgdata)
    for pid in found:
        log.warning("killing PostgreSQL process %d left behind on %s", pid, pgdata)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in found:
        wait_exit(pid, 10)
    for lock in (pid_file, socket_lock):
        holder = lock_pid(lock)
        if holder is not None and not may_hold(holder, pgdata):
            log.info("removing the stale %s (pid %d is not a PostgreSQL on this folder)", lock, holder)
            lock.unlink(missing_ok=True)


def lock_pid(path: Path) -> int | None:
    """The pid in a PostgreSQL lock file (postmaster.pid, a socket's .lock)."""
    try:
        return int(path.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def running(pid: int) -> bool:
    """True while the process runs; an exited process nobody reaped yet (a zombie) does not."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
