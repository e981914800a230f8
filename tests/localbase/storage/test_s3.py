"""The S3 backend ([storage] backend = "s3"): a Localbase whose object bytes live in an S3 server
(moto's server mode, started here), driven through supabase-py like the local backend."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import boto3
import httpx
import pytest
from storage3.exceptions import StorageApiError

from localbase.testing.server import LocalbaseProcess, free_port
from tests.localbase.helpers import sql
from tests.localbase.storage.conftest import PROJECT, client_for

S3_BUCKET = "localbase-objects"
CREDENTIALS = {"aws_access_key_id": "test-key", "aws_secret_access_key": "test-secret", "region_name": "us-east-1"}


@pytest.fixture(scope="module")
def moto():
    port = free_port()
    process = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "moto_server"), "-H", "127.0.0.1",
                                "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(endpoint, timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("moto_server did not start")
            time.sleep(0.1)
    s3 = boto3.client("s3", endpoint_url=endpoint, **CREDENTIALS)
    s3.create_bucket(Bucket=S3_BUCKET)
    try:
        yield endpoint, s3
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def s3_server(moto):
    endpoint, _ = moto
    server = LocalbaseProcess(PROJECT, env={
        "LOCALBASE_STORAGE_BACKEND": "s3", "LOCALBASE_STORAGE_S3_BUCKET": S3_BUCKET,
        "LOCALBASE_STORAGE_S3_ENDPOINT": endpoint, "LOCALBASE_STORAGE_S3_PREFIX": "project-a",
        "LOCALBASE_STORAGE_S3_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
        "LOCALBASE_STORAGE_S3_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"]})
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


def _keys(s3) -> set[str]:
    return {item["Key"] for item in s3.list_objects_v2(Bucket=S3_BUCKET, Prefix="project-a/").get("Contents", [])}


def test_objects_live_in_s3(s3_server, moto):
    _, s3 = moto
    service = client_for(s3_server, key=s3_server.service_role_key)
    service.storage.create_bucket("media")
    files = service.storage.from_("media")
    body = os.urandom(20 * 1024 * 1024 + 123)  # past boto3's multipart threshold
    files.upload("clips/big.bin", body, {"content-type": "application/octet-stream"})
    files.upload("notes/a.txt", b"note a", {"content-type": "text/plain"})
    versions = {r["name"]: r["version"] for r in sql(s3_server, "select name, version from storage.objects")}
    assert _keys(s3) == {f"project-a/{v}" for v in versions.values()}
    assert s3.get_object(Bucket=S3_BUCKET, Key=f"project-a/{versions['notes/a.txt']}")["Body"].read() == b"note a"
    assert files.download("clips/big.bin") == body
    ranged = httpx.get(f"{s3_server.url}/storage/v1/object/media/clips/big.bin",
                       headers={"Authorization": f"Bearer {s3_server.service_role_key}", "Range": "bytes=100-199"})
    assert ranged.status_code == 206 and ranged.content == body[100:200]
    assert not (s3_server.data_dir / "storage" / "objects").exists() or \
        not any((s3_server.data_dir / "storage" / "objects").rglob("*"))  # nothing on local disk

    files.copy("notes/a.txt", "notes/b.txt")
    files.move("notes/b.txt", "notes/c.txt")
    assert files.download("notes/c.txt") == b"note a"
    files.update("notes/a.txt", b"note a, v2")
    assert files.download("notes/a.txt") == b"note a, v2"
    files.remove(["clips/big.bin", "notes/c.txt"])
    remaining = {r["version"] for r in sql(s3_server, "select version from storage.objects")}
    assert _keys(s3) == {f"project-a/{v}" for v in remaining}  # replaced and removed versions are gone
    with pytest.raises(StorageApiError):
        files.download("clips/big.bin")


def test_signed_urls_and_resumable_uploads_on_s3(s3_server):
    service = client_for(s3_server, key=s3_server.service_role_key)
    service.storage.create_bucket("shared", options={"public": True})
    files = service.storage.from_("shared")
    files.upload("x.txt", b"shared bytes", {"content-type": "text/plain"})
    assert httpx.get(files.create_signed_url("x.txt", 60)["signedURL"]).content == b"shared bytes"
    assert httpx.get(files.get_public_url("x.txt")).content == b"shared bytes"
    import base64
    meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in
                    {"bucketName": "shared", "objectName": "resumed.bin"}.items())
    headers = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {s3_server.service_role_key}"}
    created = httpx.post(f"{s3_server.url}/storage/v1/upload/resumable",
                         headers={**headers, "Upload-Length": "6", "Upload-Metadata": meta})
    for offset, part in ((0, b"abc"), (3, b"def")):
        assert httpx.patch(created.headers["location"], content=part, headers={
            **headers, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"}
        ).status_code == 204
    assert files.download("resumed.bin") == b"abcdef"
