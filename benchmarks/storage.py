"""Storage: upload and download throughput through /storage/v1, side by side with a plain file copy
on the same disk, and the server's memory during a 1 GiB upload.

    python benchmarks/storage.py [--quick] [--skip-gib]

For 1 KiB, 1 MiB and 100 MiB objects (several of each, sequentially, one keep-alive connection):
- upload MB/s: POST /storage/v1/object/<bucket>/<key> (raw body, as supabase-js sends a Buffer),
  against the baseline: copying a file of that size into a new file in the same folder and fsyncing
  it (what an upload durably has to do at least);
- download MB/s: GET of the object, streamed, against reading the file;
- the ratio ours / baseline for each (1.0 would be as fast as the plain copy).
Then the server's resident memory (all its processes) sampled every 0.1 s while a 1 GiB body
streams in: baseline, peak, growth. Writes benchmarks/results/storage.json."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from common import console, save  # noqa: E402

from localbase.testing.memory import PeakMemory  # noqa: E402
from localbase.testing.server import LocalbaseProcess  # noqa: E402

SIZES = {"1KiB": 1024, "1MiB": 1024 ** 2, "100MiB": 100 * 1024 ** 2}
COUNTS = {"1KiB": 300, "1MiB": 40, "100MiB": 3}
QUICK = {"1KiB": 50, "1MiB": 10, "100MiB": 1}
BUCKET = "bench"
MB = 1e6


def _project(root: Path) -> None:
    (root / "supabase" / "migrations").mkdir(parents=True)


def _baseline(folder: Path, body: bytes, count: int) -> tuple[float, float]:
    """Seconds to copy a file of this size `count` times (fsynced), and to read the copies back."""
    source = folder / "source.bin"
    source.write_bytes(body)
    started = time.perf_counter()
    copies = []
    for i in range(count):
        target = folder / f"copy-{i}.bin"
        shutil.copyfile(source, target)
        fd = os.open(target, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        copies.append(target)
    copied = time.perf_counter() - started
    started = time.perf_counter()
    for target in copies:
        with open(target, "rb") as fh:
            while fh.read(1024 * 1024):
                pass
    read = time.perf_counter() - started
    for target in copies:
        target.unlink()
    source.unlink()
    return copied, read


def _ours(client: httpx.Client, label: str, body: bytes, count: int) -> tuple[float, float]:
    started = time.perf_counter()
    for i in range(count):
        r = client.post(f"/storage/v1/object/{BUCKET}/{label}/{i}.bin", content=body,
                        headers={"content-type": "application/octet-stream", "x-upsert": "true"})
        assert r.status_code == 200, r.text
    uploaded = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(count):
        size = 0
        with client.stream("GET", f"/storage/v1/object/{BUCKET}/{label}/{i}.bin") as r:
            assert r.status_code == 200
            for chunk in r.iter_raw(1024 * 1024):
                size += len(chunk)
        assert size == len(body)
    downloaded = time.perf_counter() - started
    return uploaded, downloaded


def _memory_during_gib_upload(server: LocalbaseProcess, client: httpx.Client) -> dict:
    block = os.urandom(1024 * 1024)

    def body():
        for _ in range(1024):
            yield block
    started = time.perf_counter()
    with PeakMemory(server.process.pid) as memory:  # type: ignore[union-attr]
        r = client.post(f"/storage/v1/object/{BUCKET}/gib.bin", content=body(),
                        headers={"content-type": "application/octet-stream", "x-upsert": "true"}, timeout=900)
    assert r.status_code == 200, r.text
    seconds = time.perf_counter() - started
    return {"rss_before_mib": round(memory.baseline / 2 ** 20, 1), "rss_peak_mib": round(memory.peak / 2 ** 20, 1),
            "rss_growth_mib": round(memory.growth / 2 ** 20, 1),
            "upload_mb_per_s": round(1024 ** 3 / MB / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer objects of each size")
    parser.add_argument("--skip-gib", action="store_true", help="leave out the 1 GiB memory measurement")
    args = parser.parse_args()
    counts = QUICK if args.quick else COUNTS
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        root = Path(tmp)
        _project(root / "project")
        baseline_dir = root / "baseline"
        baseline_dir.mkdir()
        server = LocalbaseProcess(root / "project", root / "data",
                                  env={"LOCALBASE_STORAGE_FILE_SIZE_LIMIT": "2GiB"})
        server.start()
        try:
            headers = {"Authorization": f"Bearer {server.service_role_key}"}
            with httpx.Client(base_url=server.url, headers=headers, timeout=300) as client:
                assert client.post("/storage/v1/bucket", json={"name": BUCKET}).status_code == 200
                result: dict = {"sizes": {}}
                for label, size in SIZES.items():
                    body = os.urandom(size)
                    count = counts[label]
                    up, down = _ours(client, label, body, count)
                    copy, read = _baseline(baseline_dir, body, count)
                    total = size * count / MB
                    row = {"objects": count,
                           "upload_mb_per_s": round(total / up, 2), "copy_mb_per_s": round(total / copy, 2),
                           "upload_ratio": round(copy / up, 3),
                           "download_mb_per_s": round(total / down, 2), "read_mb_per_s": round(total / read, 2),
                           "download_ratio": round(read / down, 3),
                           "upload_ms_per_object": round(up / count * 1000, 2)}
                    result["sizes"][label] = row
                    console.print(f"[bold]{label}[/bold] {row}")
                if not args.skip_gib:
                    result["gib_upload_memory"] = _memory_during_gib_upload(server, client)
                    console.print(f"[bold]1 GiB upload[/bold] {result['gib_upload_memory']}")
        finally:
            server.cleanup()
    result["note"] = ("ratio = ours / plain file copy (upload: copy + fsync; download: read) on the same disk, "
                      "sequential, one connection")
    console.print(f"wrote {save('storage', result)}")


if __name__ == "__main__":
    main()
