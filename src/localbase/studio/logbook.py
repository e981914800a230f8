"""The recent requests and log records of the server, for Studio's Logs page.

Every API process keeps its last REQUESTS requests (from the gateway's per-request hook, whether or
not access logs are on) and its last RECORDS log records of level WARNING and up (through a
handler on the root logger). A request is kept as a tuple and redacted when read (logs.redact_query
and redact_text: no token, password or key in a query string or path is ever shown); a record is
formatted by logs.JsonFormatter, which redacts it.

With several workers (`--workers N`), each worker other than 0 appends what it saw, redacted, to
<data folder>/studio-logs/worker-<i>.jsonl once a second (rotated past MAX_FILE_BYTES), and
Studio, in worker 0, reads those files beside its own memory."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from localbase.logs import JsonFormatter, redact_query, redact_text
from localbase.process import tasks, workers

log = logging.getLogger("localbase.studio")
REQUESTS = 2000
RECORDS = 500
WRITE_SECONDS = 1.0
MAX_FILE_BYTES = 512 * 1024
FOLDER = "studio-logs"


class Logbook:
    def __init__(self) -> None:
        self.requests: deque[tuple] = deque(maxlen=REQUESTS)
        self.records: deque[dict[str, Any]] = deque(maxlen=RECORDS)
        self.seq = 0
        self.formatter = JsonFormatter()
        self.readable: dict[int, dict[str, Any]] = {}  # seq -> a kept request as shown, redacted once

    def request(self, scope, service: str, status: int, seconds: float) -> None:
        """The gateway's per-request hook: cheap (a tuple), the redaction is done when read."""
        self.seq += 1
        client = scope.get("client")
        self.requests.append((self.seq, time.time(), scope.get("method", "GET"), scope.get("path", ""),
                              scope.get("query_string", b""), status, seconds * 1000, service,
                              client[0] if client else None))

    def record(self, record: logging.LogRecord) -> None:
        try:
            entry = orjson.loads(self.formatter.format(record))
        except (TypeError, ValueError):  # an unformattable record: keep what is safe of it
            entry = {"level": record.levelname.lower(), "logger": record.name, "msg": "(unformattable record)"}
        self.seq += 1
        entry.update(seq=self.seq, ts=record.created, kind="log")
        self.records.append(entry)

    def entries(self, after: int = 0) -> list[dict[str, Any]]:
        """This process's entries with seq > after, redacted, oldest first (read-only: a request's
        entry is made once, when first read, and shared by later reads)."""
        found = [self._readable(r) for r in self.requests if r[0] > after]
        found += [dict(e) for e in self.records if e["seq"] > after]
        found.sort(key=lambda e: e["seq"])
        return found

    def _readable(self, r: tuple) -> dict[str, Any]:
        entry = self.readable.get(r[0])
        if entry is None:
            if len(self.readable) >= 2 * REQUESTS:  # forget those the deque has dropped
                oldest = self.requests[0][0]
                self.readable = {seq: e for seq, e in self.readable.items() if seq >= oldest}
            entry = self.readable[r[0]] = _request_entry(r)
        return entry


def _request_entry(r: tuple) -> dict[str, Any]:
    seq, ts, method, path, query, status, ms, service, client = r
    if "eyJ" in path:
        path = redact_text(path)
    return {"seq": seq, "ts": ts, "kind": "request", "level": "error" if status >= 500 else
            "warning" if status >= 400 else "info", "method": method, "path": path,
            "query": redact_query(query.decode("latin-1")), "status": status, "ms": round(ms, 1),
            "service": service, "client": client}


class _Handler(logging.Handler):
    def __init__(self, book: Logbook) -> None:
        super().__init__(logging.WARNING)
        self.book = book

    def emit(self, record: logging.LogRecord) -> None:
        self.book.record(record)


_book: Logbook | None = None


def current() -> Logbook:
    """This process's logbook, its log handler installed once."""
    global _book
    if _book is None:
        _book = Logbook()
        logging.getLogger().addHandler(_Handler(_book))
    return _book


def attach(gateway) -> Logbook:
    """Keep the gateway's requests in this process's logbook (beside its access log, if on)."""
    book = current()
    previous = gateway.access_log
    if previous is None:
        gateway.access_log = book.request
    else:
        def both(scope, service: str, status: int, seconds: float) -> None:
            previous(scope, service, status, seconds)
            book.request(scope, service, status, seconds)
        gateway.access_log = both
    return book


# -- several workers --------------------------------------------------------------------------------
def folder(data_dir: Path) -> Path:
    return data_dir / FOLDER


@dataclass
class Sharer:
    """In a worker other than 0: appends this worker's new entries to its file every second."""

    book: Logbook
    path: Path
    written: int = 0
    task: asyncio.Task | None = None

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        await tasks.cancel(self.task)
        self.flush()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(WRITE_SECONDS)
            try:
                self.flush()
            except OSError as exc:
                log.warning("could not share this worker's logs with Studio: %s", exc)

    def flush(self) -> None:
        new = self.book.entries(self.written)
        if not new:
            return
        index = workers.current().index
        lines = b"".join(orjson.dumps({**e, "worker": index}) + b"\n" for e in new)
        if self.path.exists() and self.path.stat().st_size > MAX_FILE_BYTES:
            os.replace(self.path, self.path.with_suffix(".jsonl.1"))
        with self.path.open("ab") as fh:
            fh.write(lines)
        self.written = new[-1]["seq"]


def share(app, data_dir: Path) -> Sharer | None:
    me = workers.current()
    if not me.several or me.first:
        return None
    return Sharer(current(), folder(data_dir) / f"worker-{me.index}.jsonl")


def _other_files(data_dir: Path) -> list[Path]:
    """The other workers' files, each worker's older one first."""
    me = workers.current()
    paths = []
    for index in range(me.count):
        if index != me.index:
            base = folder(data_dir) / f"worker-{index}.jsonl"
            paths += [base.with_suffix(".jsonl.1"), base]
    return paths


def read_others(data_dir: Path) -> list[dict[str, Any]]:
    """The other workers' shared entries."""
    return [e for path in _other_files(data_dir) for e in _read_lines(path)]


class Follower:
    """What is new since the last call - in this process's logbook and the other workers' files (a
    file is read again only when it changed) - for a live view."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.book = current()
        self.after = self.book.seq
        self.stamps: dict[Path, tuple[int, int]] = {}
        self.seen: dict[int, int] = {}  # worker -> the last seq seen
        self.new()  # what is there now is not new

    def new(self) -> list[dict[str, Any]]:
        fresh = self.book.entries(self.after)
        self.after = self.book.seq
        for path in _other_files(self.data_dir):
            try:
                info = path.stat()
            except FileNotFoundError:
                continue
            stamp = (info.st_size, info.st_mtime_ns)
            if self.stamps.get(path) == stamp:
                continue
            self.stamps[path] = stamp
            for e in _read_lines(path):
                worker = e.get("worker", -1)
                if e.get("seq", 0) > self.seen.get(worker, 0):
                    self.seen[worker] = e["seq"]
                    fresh.append(e)
        fresh.sort(key=lambda e: e.get("ts", 0))
        return fresh


def _read_lines(path: Path) -> Iterable[dict[str, Any]]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    out = []
    for line in data.splitlines():
        try:
            out.append(orjson.loads(line))
        except orjson.JSONDecodeError:  # a line being written as we read: the next read has it
            continue
    return out


# -- the gateway's lifespan (in every API process when Studio is on) -----------------------------------
async def startup(app) -> None:
    sharer = share(app, app.state.settings.data_dir)
    if sharer is not None:
        sharer.start()
    app.state.studio_log_sharer = sharer


async def shutdown(app) -> None:
    sharer = getattr(app.state, "studio_log_sharer", None)
    if sharer is not None:
        await sharer.stop()
