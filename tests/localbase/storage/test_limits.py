"""Limits and bad input: size limits (413 in Storage's shape), MIME refusal, bad keys (traversal,
absolute, NUL, overlong), failed and aborted uploads leaving nothing, memory flat for 1 GB."""

from __future__ import annotations

import hashlib
import time

import httpx
import pytest
from storage3.exceptions import StorageApiError

from localbase.testing.memory import PeakMemory
from tests.localbase.helpers import sql


def _leftovers(server) -> list[str]:
    """Files in the server's upload workspaces (each process's folder under storage/tmp)."""
    return [p.name for p in (server.data_dir / "storage" / "tmp").rglob("*") if p.is_file()]


def _versions(server) -> set[str]:
    return {p.name for p in (server.data_dir / "storage" / "objects").rglob("*") if p.is_file()}


def test_size_limit_413_in_storage_shape(storage_server, service, bucket):
    service.storage.update_bucket(bucket, {"file_size_limit": 1000})
    before = _versions(storage_server)
    with pytest.raises(StorageApiError) as too_large:  # multipart, counted as it streams
        service.storage.from_(bucket).upload("big.bin", b"x" * 2000)
    assert (too_large.value.status, too_large.value.code) == ("413", "Payload too large")
    auth = {"Authorization": f"Bearer {storage_server.service_role_key}"}
    raw = httpx.post(f"{storage_server.url}/storage/v1/object/{bucket}/big.bin", content=b"x" * 2000,
                     headers={**auth, "content-type": "application/octet-stream"})
    assert raw.status_code == 413
    assert raw.json() == {"statusCode": "413", "code": "EntityTooLarge", "error": "Payload too large",
                          "message": "The object exceeded the maximum allowed size"}

    def chunked():
        for _ in range(4):
            yield b"y" * 600
    streamed = httpx.post(f"{storage_server.url}/storage/v1/object/{bucket}/big.bin", content=chunked(),
                          headers={**auth, "content-type": "application/octet-stream"})
    assert streamed.status_code == 413
    assert service.storage.from_(bucket).exists("big.bin") is False
    assert _leftovers(storage_server) == [] and _versions(storage_server) == before
    service.storage.from_(bucket).upload("fits.bin", b"x" * 1000)  # exactly the limit
    # a limit larger than the server's own is refused
    with pytest.raises(StorageApiError) as over_global:
        service.storage.update_bucket(bucket, {"file_size_limit": 3 * 1024 ** 3})
    assert over_global.value.status == "413"


def test_mime_types_refused(service, bucket):
    files = service.storage.from_("config-declared")  # allowed: image/png, text/plain
    with pytest.raises(StorageApiError) as refused:
        files.upload("doc.pdf", b"%PDF", {"content-type": "application/pdf"})
    assert (refused.value.status, refused.value.code) == ("415", "invalid_mime_type")
    files.upload(f"ok-{bucket}.txt", b"fine", {"content-type": "text/plain", "upsert": "true"})
    service.storage.update_bucket(bucket, {"allowed_mime_types": ["image/*"]})
    service.storage.from_(bucket).upload("p.jpg", b"jpg", {"content-type": "image/jpeg"})
    with pytest.raises(StorageApiError):
        service.storage.from_(bucket).upload("t.txt", b"txt", {"content-type": "text/plain"})
    files.remove([f"ok-{bucket}.txt"])


@pytest.mark.parametrize("key", ["a/%2E%2E/b.txt", "%2E%2E/%2E%2E/etc/passwd", "/abs.txt", "a%00b.txt",
                                 "x" * 1100, "a/%2E/b.txt", "%2E%2E", "caf%C3%A9.txt"])
def test_bad_keys_refused(storage_server, bucket, key):
    response = httpx.post(f"{storage_server.url}/storage/v1/object/{bucket}/{key}", content=b"x",
                          headers={"Authorization": f"Bearer {storage_server.service_role_key}",
                                   "content-type": "text/plain"})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "InvalidKey"
    assert sql(storage_server, "select count(*) from storage.objects where bucket_id = $1", bucket)[0][0] == 0


def test_bad_keys_refused_in_bodies(storage_server, service, bucket):
    service.storage.from_(bucket).upload("ok.txt", b"x")
    auth = {"Authorization": f"Bearer {storage_server.service_role_key}"}
    for route in ("move", "copy"):
        for bad in ("../escape.txt", "/root.txt", "a\x00b", "y" * 1100):
            response = httpx.post(f"{storage_server.url}/storage/v1/object/{route}", headers=auth,
                                  json={"bucketId": bucket, "sourceKey": "ok.txt", "destinationKey": bad})
            assert response.status_code == 400 and response.json()["error"] == "InvalidKey", (route, bad)
    assert [e["name"] for e in service.storage.from_(bucket).list()] == ["ok.txt"]


def test_aborted_upload_leaves_nothing(storage_server, service, bucket):
    before = _versions(storage_server)

    def dies():
        yield b"z" * 65536
        yield b"z" * 65536
        raise ConnectionAbortedError("client gave up")
    with pytest.raises(ConnectionAbortedError):
        httpx.post(f"{storage_server.url}/storage/v1/object/{bucket}/aborted.bin", content=dies(),
                   headers={"Authorization": f"Bearer {storage_server.service_role_key}",
                            "content-type": "application/octet-stream"})
    deadline = time.monotonic() + 10
    while _leftovers(storage_server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _leftovers(storage_server) == []
    assert service.storage.from_(bucket).exists("aborted.bin") is False
    assert _versions(storage_server) == before


def test_upload_of_1gb_streams_with_flat_memory(storage_server, service, bucket):
    """A 1 GiB upload goes to disk as it arrives: the server's memory grows by far less than it."""
    block = hashlib.sha256(b"block").digest() * 32768  # 1 MiB
    md5 = hashlib.md5()

    def body():
        for i in range(1024):
            chunk = block[i % 7:] + block[:i % 7]
            md5.update(chunk)
            yield chunk
    with PeakMemory(storage_server.process.pid) as memory:
        response = httpx.post(f"{storage_server.url}/storage/v1/object/{bucket}/huge.bin", content=body(),
                              headers={"Authorization": f"Bearer {storage_server.service_role_key}",
                                       "content-type": "application/octet-stream"}, timeout=600)
    assert response.status_code == 200, response.text
    grown = memory.growth
    assert grown < 96 * 1024 * 1024, f"server memory grew by {grown / 2**20:.0f} MiB during a 1 GiB upload"
    info = service.storage.from_(bucket).info("huge.bin")
    assert info["size"] == 1024 ** 3 and info["etag"] == f'"{md5.hexdigest()}"'
    service.storage.from_(bucket).remove(["huge.bin"])
