"""kill -9 of the Localbase server while clients upload to Storage: after a restart on the same
data folder, every upload that was acknowledged is there with its bytes, every object row names a
stored file and every stored file is named by a row, and nothing half-written is left (the
temporary file of an upload cut mid-way is swept at start)."""

from __future__ import annotations

import functools
import hashlib
import threading
import time

import httpx
import pytest

from tests.faults.background import Background
from tests.faults.conftest import postmaster_pid, wait_gone
from tests.localbase.helpers import sql

UPLOADERS = 3
BUCKET = "fault-files"


class Uploaders(Background):
    """Threads uploading objects of 1 KiB .. 256 KiB until stopped (remembering the acknowledged
    ones and their digests), and one slow upload the kill interrupts mid-body."""

    def __init__(self, server):
        self.server = server
        self.headers = {"Authorization": f"Bearer {server.service_role_key}"}
        self.acked: dict[str, str] = {}
        self.failed: list[str] = []
        self.slow_started = threading.Event()
        super().__init__([*(functools.partial(self._upload, w) for w in range(UPLOADERS)), self._slow],
                         join_timeout=10)

    def _upload(self, worker: int) -> None:
        with httpx.Client(base_url=self.server.url, headers=self.headers, timeout=10) as client:
            i = 0
            while not self.stop.is_set():
                key = f"w{worker}/{i}.bin"
                body = hashlib.sha256(key.encode()).digest() * (32 * (1 + i % 256))
                i += 1
                try:
                    r = client.post(f"/storage/v1/object/{BUCKET}/{key}", content=body,
                                    headers={"content-type": "application/octet-stream"})
                except httpx.HTTPError:
                    time.sleep(0.01)
                    continue
                if r.status_code == 200:
                    self.acked[key] = hashlib.md5(body).hexdigest()
                else:
                    self.failed.append(f"{r.status_code} {r.text[:200]}")

    def _slow(self) -> None:
        def body():
            for _ in range(10_000):
                self.slow_started.set()
                yield b"s" * 65536
                time.sleep(0.01)
                if self.stop.is_set():
                    return
        try:
            httpx.post(f"{self.server.url}/storage/v1/object/{BUCKET}/slow.bin", content=body(),
                       headers={**self.headers, "content-type": "application/octet-stream"}, timeout=60)
        except httpx.HTTPError:
            pass  # the server was killed under it: this upload was never acknowledged

    def wait_for(self, n: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < n or not self.slow_started.is_set():
            assert time.monotonic() < deadline, f"only {len(self.acked)} uploads acknowledged: {self.failed[:3]}"
            time.sleep(0.01)


def _stored_files(server) -> set[str]:
    return {p.name for p in (server.data_dir / "storage" / "objects").rglob("*") if p.is_file()}


@pytest.mark.slow
def test_kill_9_during_uploads_loses_nothing_acknowledged_and_leaves_nothing_half_written(server):
    created = httpx.post(f"{server.url}/storage/v1/bucket", json={"name": BUCKET},
                         headers={"Authorization": f"Bearer {server.service_role_key}"})
    assert created.status_code == 200, created.text
    old_postmaster = postmaster_pid(server)
    with Uploaders(server) as uploaders:
        uploaders.wait_for(60)
        time.sleep(0.2)  # the slow upload is well into its body
        server.kill()
        time.sleep(0.3)
    assert not uploaders.failed, uploaders.failed[:5]
    tmp = server.data_dir / "storage" / "tmp"

    def leftovers() -> list[str]:
        return [p.name for p in tmp.rglob("*") if p.is_file()]
    assert leftovers(), "the kill should have caught an upload mid-body"
    wait_gone(old_postmaster, timeout=15)

    server.start()
    assert leftovers() == []  # the half-written upload (and any pending marker) is gone
    rows = {r["name"]: (r["version"], r["etag"]) for r in sql(
        server, "select name, version, metadata->>'eTag' as etag from storage.objects where bucket_id = $1", BUCKET)}
    missing = set(uploaders.acked) - rows.keys()
    assert not missing, f"{len(missing)} acknowledged uploads lost, e.g. {sorted(missing)[:5]}"
    assert "slow.bin" not in rows  # never finished, never acknowledged: no row
    for key, digest in uploaders.acked.items():
        assert rows[key][1] == f'"{digest}"', key
    assert _stored_files(server) == {version for version, _ in rows.values()}  # rows and files agree
    sample = sorted(uploaders.acked)[:: max(1, len(uploaders.acked) // 20)]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.service_role_key}"}) as c:
        for key in sample:
            body = c.get(f"/storage/v1/object/{BUCKET}/{key}").content
            assert hashlib.md5(body).hexdigest() == uploaders.acked[key], key
