"""Resumable uploads (TUS 1.0.0) at /storage/v1/upload/resumable, as tus-js-client speaks it
(tests/js/storage.test.mjs drives tus-js-client itself): create, upload in parts, resume after a
dropped connection, and the object appears only when the last byte is in."""

from __future__ import annotations

import base64
import time

import httpx
import pytest

from tests.localbase.helpers import sql

TUS = {"Tus-Resumable": "1.0.0"}


def _meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def _create(server, token: str, bucket: str, key: str, length: int, **extra) -> httpx.Response:
    return httpx.post(f"{server.url}/storage/v1/upload/resumable", headers={
        **TUS, "Authorization": f"Bearer {token}", "Upload-Length": str(length),
        "Upload-Metadata": _meta(bucketName=bucket, objectName=key, contentType="application/octet-stream",
                                 cacheControl="3600"), **extra})


def _patch(location: str, token: str, offset: int, content) -> httpx.Response:
    return httpx.patch(location, content=content, headers={
        **TUS, "Authorization": f"Bearer {token}", "Upload-Offset": str(offset),
        "Content-Type": "application/offset+octet-stream"})


def _offset(location: str, token: str) -> int:
    head = httpx.head(location, headers={**TUS, "Authorization": f"Bearer {token}"})
    assert head.status_code == 200, head.text
    return int(head.headers["upload-offset"])


def test_options(storage_server):
    response = httpx.options(f"{storage_server.url}/storage/v1/upload/resumable")
    assert response.status_code == 204 and response.headers["tus-version"] == "1.0.0"
    assert "creation" in response.headers["tus-extension"]


def test_resume_after_a_dropped_connection(storage_server, service, bucket):
    token = storage_server.service_role_key
    body = bytes(range(256)) * 16384  # 4 MiB
    created = _create(storage_server, token, bucket, "big/resumed.bin", len(body))
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    assert location.startswith(f"{storage_server.url}/storage/v1/upload/resumable/")
    first = _patch(location, token, 0, body[:1024 * 1024])
    assert first.status_code == 204 and first.headers["upload-offset"] == str(1024 * 1024)

    def drops():  # the connection dies 1.5 MiB into the next part
        yield body[1024 * 1024:1024 * 1024 + 768 * 1024]
        yield body[1024 * 1024 + 768 * 1024:2560 * 1024]
        raise ConnectionResetError("network gone")
    with pytest.raises(ConnectionResetError):
        _patch(location, token, 1024 * 1024, drops())
    deadline = time.monotonic() + 10
    offset = _offset(location, token)
    while offset < 2560 * 1024 and time.monotonic() < deadline:  # the server keeps what reached it
        time.sleep(0.05)
        offset = _offset(location, token)
    assert 1024 * 1024 < offset <= 2560 * 1024
    assert not service.storage.from_(bucket).exists("big/resumed.bin")  # not complete: no object yet
    wrong = _patch(location, token, 0, b"x")
    assert wrong.status_code == 409
    done = _patch(location, token, offset, body[offset:])
    assert done.status_code == 204 and done.headers["upload-offset"] == str(len(body))
    assert service.storage.from_(bucket).download("big/resumed.bin") == body
    assert service.storage.from_(bucket).info("big/resumed.bin")["cache_control"] == "max-age=3600"
    assert _offset(location, token) == len(body)  # a client that lost the last answer sees it complete


def test_creation_with_upload_and_upsert(storage_server, service, bucket):
    token = storage_server.service_role_key
    created = httpx.post(f"{storage_server.url}/storage/v1/upload/resumable", content=b"hello", headers={
        **TUS, "Authorization": f"Bearer {token}", "Upload-Length": "5",
        "Upload-Metadata": _meta(bucketName=bucket, objectName="one-shot.txt"),
        "Content-Type": "application/offset+octet-stream"})
    assert created.status_code == 201 and created.headers["upload-offset"] == "5", created.text
    assert service.storage.from_(bucket).download("one-shot.txt") == b"hello"
    refused = _create(storage_server, token, bucket, "one-shot.txt", 3)
    assert refused.status_code == 409  # exists, and no x-upsert
    again = _create(storage_server, token, bucket, "one-shot.txt", 3, **{"x-upsert": "true"})
    assert _patch(again.headers["location"], token, 0, b"new").status_code == 204
    assert service.storage.from_(bucket).download("one-shot.txt") == b"new"


def test_policies_limits_and_ownership(storage_server, signed_up, service, bucket):
    user, _ = signed_up()
    other, _ = signed_up()
    refused = _create(storage_server, user.token, "private-files", f"{other.id}/x.bin", 10)
    assert refused.status_code == 403  # the policies decide at creation, before any byte
    created = _create(storage_server, user.token, "private-files", f"{user.id}/x.bin", 10)
    assert created.status_code == 201
    location = created.headers["location"]
    stranger = httpx.head(location, headers={**TUS, "Authorization": f"Bearer {other.token}"})
    assert stranger.status_code == 403
    assert _patch(location, other.token, 0, b"0123456789").status_code == 403
    assert _patch(location, user.token, 0, b"0123456789").status_code == 204
    rows = sql(storage_server, "select owner_id from storage.objects where name = $1", f"{user.id}/x.bin")
    assert rows[0]["owner_id"] == user.id
    service.storage.update_bucket(bucket, {"file_size_limit": 100})
    too_big = _create(storage_server, storage_server.service_role_key, bucket, "big.bin", 101)
    assert too_big.status_code == 413
    unknown = httpx.head(f"{storage_server.url}/storage/v1/upload/resumable/{'0' * 32}",
                         headers={**TUS, "Authorization": f"Bearer {user.token}"})
    assert unknown.status_code == 404
    ended = _create(storage_server, user.token, "private-files", f"{user.id}/ended.bin", 10)
    gone = httpx.delete(ended.headers["location"], headers={**TUS, "Authorization": f"Bearer {user.token}"})
    assert gone.status_code == 204 and httpx.head(ended.headers["location"], headers={
        **TUS, "Authorization": f"Bearer {user.token}"}).status_code == 404
