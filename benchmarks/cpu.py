"""CPU time of a server's processes, from /proc (user + system time), for "CPU per delivered
message" figures: snapshot the processes before and after a workload and subtract.

A process that started during the workload counts from zero; one that ended during it is lost
(so measure over a steady set: connections opened before the first snapshot)."""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (2nd field) is in parentheses and may hold spaces
    return [str(pid), text[text.index("(") + 1:text.rindex(")")], *text[text.rindex(")") + 2:].split()]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of one process (not its children), None when it is gone."""
    fields = _stat(pid)
    if fields is None:
        return None
    return (int(fields[13]) + int(fields[14])) / TICK


def descendants(root: int) -> dict[int, str]:
    """`root` and every process below it: pid -> command name."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        if fields is None:
            continue
        names[int(entry.name)] = fields[1]
        children.setdefault(int(fields[3]), []).append(int(entry.name))
    found: dict[int, str] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in names:
            found[pid] = names[pid]
        todo.extend(children.get(pid, ()))
    return found


def postgres(root: int) -> list[int]:
    """The PostgreSQL processes below `root` (a Localbase server: its postmaster, backends and the rest)."""
    return [pid for pid, name in descendants(root).items() if name.startswith("postgres")]


def snapshot(pids) -> dict[int, float]:
    out = {}
    for pid in pids:
        seconds = cpu_seconds(pid)
        if seconds is not None:
            out[pid] = seconds
    return out


def used(before: dict[int, float], after: dict[int, float], pids=None) -> float:
    """CPU seconds used between two snapshots by `pids` (default: all in `after`)."""
    return sum(after[p] - before.get(p, 0.0) for p in (after if pids is None else pids) if p in after)
