"""The logbook (unit): requests redacted when read, records formatted (and redacted) by the JSON
formatter, and a worker's entries shared through its file for worker 0's Studio."""

from __future__ import annotations

import asyncio
import logging

from localbase.studio import logbook


def test_requests_are_redacted_when_read():
    book = logbook.Logbook()
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    book.request({"method": "GET", "path": f"/auth/v1/verify/{token}", "query_string": f"apikey={token}&x=1".encode(),
                  "client": ("10.0.0.1", 5)}, "auth", 401, 0.0123)
    [entry] = book.entries()
    assert token not in str(entry)
    assert entry["query"] == "apikey=[REDACTED]&x=1" and entry["path"] == "/auth/v1/verify/[REDACTED]"
    assert (entry["status"], entry["level"], entry["ms"], entry["client"]) == (401, "warning", 12.3, "10.0.0.1")


def test_a_request_is_made_readable_once_and_forgotten_with_the_deque(monkeypatch):
    monkeypatch.setattr(logbook, "REQUESTS", 10)
    book = logbook.Logbook()
    scope = {"method": "GET", "path": "/rest/v1/notes", "query_string": b"id=eq.1", "client": None}
    for _ in range(25):
        book.request(scope, "rest", 200, 0.001)
        book.entries()
    assert [e["seq"] for e in book.entries()] == list(range(16, 26))  # the deque's last 10
    assert book.entries()[0] is book.entries()[0]  # redacted once, not on every read
    assert len(book.readable) <= 2 * logbook.REQUESTS and min(book.readable) >= 11


def test_records_are_formatted_and_redacted():
    book = logbook.Logbook()
    record = logging.LogRecord("localbase.rest", logging.ERROR, __file__, 1, "connect to %s failed",
                               ("postgresql://app:hunter2@db:5432/x",), None)
    book.record(record)
    [entry] = book.entries()
    assert entry["kind"] == "log" and entry["level"] == "error" and "hunter2" not in entry["msg"]
    assert entry["msg"] == "connect to postgresql://app:****@db:5432/x failed"


def worker_1(tmp_path, as_worker) -> tuple[logbook.Logbook, logbook.Sharer]:
    """This process as worker 1 of 2, with its logbook and the sharer of its file."""
    as_worker(1, 2)
    book = logbook.Logbook()
    sharer = logbook.Sharer(book, logbook.folder(tmp_path) / "worker-1.jsonl")
    sharer.path.parent.mkdir(parents=True)
    return book, sharer


def test_a_worker_shares_its_entries(tmp_path, as_worker):
    book, sharer = worker_1(tmp_path, as_worker)
    book.request({"method": "GET", "path": "/rest/v1/a", "query_string": b""}, "rest", 200, 0.001)
    sharer.flush()
    book.request({"method": "POST", "path": "/rest/v1/b", "query_string": b""}, "rest", 201, 0.001)
    sharer.flush()
    sharer.flush()  # nothing new: nothing written twice
    as_worker(0, 2)
    shared = logbook.read_others(tmp_path)
    assert [(e["path"], e["worker"]) for e in shared] == [("/rest/v1/a", 1), ("/rest/v1/b", 1)]


def test_a_full_file_is_rotated(tmp_path, as_worker, monkeypatch):
    monkeypatch.setattr(logbook, "MAX_FILE_BYTES", 200)
    book, sharer = worker_1(tmp_path, as_worker)
    for i in range(6):
        book.request({"method": "GET", "path": f"/rest/v1/t{i}", "query_string": b""}, "rest", 200, 0.001)
        sharer.flush()
    as_worker(0, 2)
    paths = [e["path"] for e in logbook.read_others(tmp_path)]
    assert paths[-1] == "/rest/v1/t5" and len(paths) < 6  # the oldest went with the rotated-out file
    assert asyncio.iscoroutinefunction(logbook.startup)


def test_a_follower_hands_out_each_new_entry_once(tmp_path, as_worker):
    other, sharer = worker_1(tmp_path, as_worker)
    other.request({"method": "GET", "path": "/old", "query_string": b""}, "rest", 200, 0.001)
    sharer.flush()
    as_worker(0, 2)
    follower = logbook.Follower(tmp_path)
    assert follower.new() == []  # what was there before is not new
    as_worker(1, 2)
    other.request({"method": "GET", "path": "/new", "query_string": b""}, "rest", 200, 0.001)
    sharer.flush()
    as_worker(0, 2)
    logbook.current().request({"method": "GET", "path": "/mine", "query_string": b""}, "rest", 200, 0.001)
    assert sorted(e["path"] for e in follower.new()) == ["/mine", "/new"]
    assert follower.new() == []
