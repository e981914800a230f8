"""Unit tests of the pure stages: Range parsing, signed-URL tokens, multipart bodies streamed to a
temporary file, transformation options."""

from __future__ import annotations

import time

import pytest

from localbase.security import jwt
from localbase.storage import errors, signing, transform
from localbase.storage.receive import Limits, receive
from localbase.storage.respond import parse_range

SECRET = "s" * 40


def test_ranges():
    assert parse_range(None, 100) is None and parse_range("bytes=0-9", 100) == (0, 10)
    assert parse_range("bytes=90-", 100) == (90, 100) and parse_range("bytes=-5", 100) == (95, 100)
    assert parse_range("bytes=50-500", 100) == (50, 100) and parse_range("bytes=0-1,5-6", 100) is None
    assert parse_range("items=0-1", 100) is None
    for unsatisfiable in ("bytes=100-", "bytes=5-2", "bytes=-0"):
        with pytest.raises(errors.StorageError) as refused:
            parse_range(unsatisfiable, 100)
        assert refused.value.status == 416


def test_signed_tokens():
    token = signing.sign(SECRET, "b/k.txt", signing.DOWNLOAD, 60)
    assert signing.verify(SECRET, token, "b/k.txt", signing.DOWNLOAD).url == "b/k.txt"
    for url, scope, secret in (("b/other.txt", signing.DOWNLOAD, SECRET), ("b/k.txt", signing.UPLOAD, SECRET),
                               ("b/k.txt", signing.DOWNLOAD, "t" * 40)):
        with pytest.raises(errors.StorageError):
            signing.verify(secret, token, url, scope)
    expired = jwt.sign({"url": "b/k.txt", "scope": "download", "exp": int(time.time()) - 1}, SECRET)
    with pytest.raises(errors.StorageError, match="expired"):
        signing.verify(SECRET, expired, "b/k.txt", signing.DOWNLOAD)
    role_token = jwt.sign({"url": "b/k.txt", "scope": "download", "role": "service_role"}, SECRET)
    with pytest.raises(errors.StorageError):  # a token carrying a role is never a URL grant
        signing.verify(SECRET, role_token, "b/k.txt", signing.DOWNLOAD)
    upload = signing.verify(SECRET, signing.sign(SECRET, "b/k", signing.UPLOAD, 60, owner="u1", upsert=True),
                            "b/k", signing.UPLOAD)
    assert (upload.owner, upload.upsert) == ("u1", True)


async def _chunks(data: bytes, size: int):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def _form(boundary: str, fields: dict[str, str], file: bytes, file_type: str = "image/png") -> bytes:
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name=""; filename="blob"\r\n'
                 f"Content-Type: {file_type}\r\n\r\n".encode() + file + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


async def test_multipart_streamed_to_a_file(tmp_path):
    payload = bytes(range(256)) * 5000
    body = _form("XyZ", {"cacheControl": "60", "metadata": '{"a": 1}'}, payload)
    headers = {"content-type": "multipart/form-data; boundary=XyZ"}
    received = await receive(_chunks(body, 777), headers, tmp_path, Limits(10 ** 7))
    assert received.path.read_bytes() == payload and received.size == len(payload)
    assert (received.mimetype, received.cache_control, received.user_metadata) == ("image/png", "max-age=60", {"a": 1})
    with pytest.raises(errors.StorageError) as too_large:
        await receive(_chunks(body, 777), headers, tmp_path, Limits(1000))
    assert too_large.value.status == 413
    with pytest.raises(errors.StorageError) as refused_type:
        await receive(_chunks(body, 777), headers, tmp_path, Limits(10 ** 7, ["text/*"]))
    assert refused_type.value.status == 415
    with pytest.raises(errors.StorageError) as no_file:
        await receive(_chunks(b"--XyZ--\r\n", 10), headers, tmp_path, Limits(10 ** 7))
    assert no_file.value.status == 400
    assert [p.name for p in tmp_path.iterdir()] == [received.path.name]  # failures leave no file behind


def test_transform_options():
    options = transform.parse({"width": "100", "height": "50", "resize": "contain", "quality": "60", "format": "webp"})
    assert transform.from_description(options.describe()) == options
    assert transform.parse({}).key(accept_webp=True) != transform.parse({}).key(accept_webp=False)
    for bad in ({"width": "x"}, {"height": "2501"}, {"resize": "stretch"}, {"quality": "101"}, {"format": "gif"}):
        with pytest.raises(errors.StorageError):
            transform.parse(bad)
