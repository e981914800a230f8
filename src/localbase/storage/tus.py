"""Resumable uploads at /storage/v1/upload/resumable: the TUS 1.0.0 protocol (creation,
creation-with-upload, termination, expiration) as Supabase serves it to tus-js-client.

An upload is a folder under the storage folder: info.json (bucket, key, options, length, who
created it) and the bytes received so far (their count is the offset). Bytes are appended as they
arrive, so a dropped connection keeps what came before it, and the client resumes from there
(HEAD, then PATCH at the offset). The last byte stores the object as the caller of that request
(their policies decide, as for any upload); a finished upload answers HEAD with its full offset
until it expires, so a client that lost the last answer sees it complete. One request at a time
per upload (a file lock, across worker processes): a second answers 423 and is retried."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from localbase.storage import errors, names, writes
from localbase.storage.config import TUS_EXPIRY_S
from localbase.storage.receive import FLUSH_BYTES, user_metadata_json
from localbase.storage.service import StorageService
from localbase.storage.session import Session

log = logging.getLogger("localbase.storage")
VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,expiration"
PREFIX = "/storage/v1/upload/resumable"
OCTETS = "application/offset+octet-stream"


def _headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": VERSION, **extra}


def options(svc: StorageService) -> Response:
    return Response(status_code=204, headers=_headers(**{"Tus-Version": VERSION, "Tus-Extension": EXTENSIONS,
                                                         "Tus-Max-Size": str(svc.config.file_size_limit)}))


def _metadata(header: str | None) -> dict[str, str]:
    """Upload-Metadata: `key base64,key base64`."""
    found: dict[str, str] = {}
    for pair in (header or "").split(","):
        key, _, value = pair.strip().partition(" ")
        if not key:
            continue
        try:
            found[key] = base64.b64decode(value, validate=True).decode("utf-8") if value else ""
        except (binascii.Error, UnicodeDecodeError):
            raise errors.invalid_request(f"Upload-Metadata {key[:40]} is not base64") from None
    return found


def _folder(svc: StorageService, upload_id: str) -> Path:
    if len(upload_id) != 32 or any(c not in "0123456789abcdef" for c in upload_id):
        raise errors.no_such_upload()
    return svc.config.tus_dir / upload_id


def _read_info(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "info.json").read_text())
    except FileNotFoundError:
        raise errors.no_such_upload() from None


def _write_info(folder: Path, info: dict[str, Any]) -> None:
    tmp = folder / "info.tmp"
    tmp.write_text(json.dumps(info))
    os.replace(tmp, folder / "info.json")


def _offset(folder: Path, info: dict[str, Any]) -> int:
    if info.get("done"):
        return int(info["length"])
    try:
        return (folder / "data").stat().st_size
    except FileNotFoundError:
        return 0


def _same_caller(info: dict[str, Any], session: Session) -> None:
    if info.get("owner") != session.owner_id or info.get("role") != session.caller.role:
        raise errors.access_denied("The upload was created by another user")


@contextlib.contextmanager
def _locked(folder: Path):
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise errors.resource_locked() from None
        yield
    finally:
        os.close(fd)  # releases the lock


async def create(request: Request, svc: StorageService, session: Session) -> Response:
    meta = _metadata(request.headers.get("upload-metadata"))
    bucket_id = names.bucket_name(meta.get("bucketName"))
    key = names.object_key(meta.get("objectName"))
    raw_length = request.headers.get("upload-length")
    if raw_length is None or not raw_length.isdigit():
        raise errors.invalid_request("Upload-Length is required (deferred lengths are not supported)")
    length = int(raw_length)
    upsert = request.headers.get("x-upsert") == "true"
    limits = await writes.may_write(svc, session, bucket_id, key, session.owner_id, upsert=upsert)
    if length > limits.max_bytes:
        raise errors.entity_too_large()
    mimetype = meta.get("contentType") or "application/octet-stream"
    if not names.mime_allowed(mimetype, limits.allowed_mime_types):
        raise errors.invalid_mime_type(mimetype)
    upload_id = uuid.uuid4().hex
    folder = svc.config.tus_dir / upload_id
    cache = meta.get("cacheControl")
    info: dict[str, Any] = {"bucket": bucket_id, "key": key, "length": length, "upsert": upsert, "mimetype": mimetype,
            "cache_control": f"max-age={cache}" if cache and cache.isdigit() else (cache or "no-cache"),
            "user_metadata": user_metadata_json(meta["metadata"]) if meta.get("metadata") else None,
            "owner": session.owner_id, "role": session.caller.role, "created": time.time()}
    await asyncio.to_thread(_create_folder, folder, info)
    expires = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(info["created"] + TUS_EXPIRY_S))
    location = f"{request.url.scheme}://{request.url.netloc}{PREFIX}/{upload_id}"
    headers = _headers(Location=location, **{"Upload-Expires": expires})
    if request.headers.get("content-type", "").startswith(OCTETS):  # creation-with-upload
        headers["Upload-Offset"] = str(await _append(request, svc, session, folder, 0))
    return Response(status_code=201, headers=headers)


def _discard(folder: Path) -> None:
    """Remove an upload's folder; what cannot be removed now is logged and expires with the sweep."""
    try:
        shutil.rmtree(folder)
    except FileNotFoundError:
        return
    except OSError as exc:
        log.warning("storage: could not remove resumable upload %s (the sweep will): %s", folder.name, exc)


def _create_folder(folder: Path, info: dict[str, Any]) -> None:
    folder.mkdir(parents=True)
    (folder / "data").touch()
    _write_info(folder, info)


async def head(svc: StorageService, session: Session, upload_id: str) -> Response:
    folder = _folder(svc, upload_id)
    info = await asyncio.to_thread(_read_info, folder)
    _same_caller(info, session)
    return Response(status_code=200, headers=_headers(**{"Upload-Offset": str(_offset(folder, info)),
                                                         "Upload-Length": str(info["length"]),
                                                         "Cache-Control": "no-store"}))


async def patch(request: Request, svc: StorageService, session: Session, upload_id: str) -> Response:
    if not request.headers.get("content-type", "").startswith(OCTETS):
        raise errors.StorageError(415, "InvalidRequest", f"Content-Type must be {OCTETS}")
    offset = request.headers.get("upload-offset")
    if offset is None or not offset.isdigit():
        raise errors.invalid_request("Upload-Offset is required")
    reached = await _append(request, svc, session, _folder(svc, upload_id), int(offset))
    return Response(status_code=204, headers=_headers(**{"Upload-Offset": str(reached)}))


async def _append(request: Request, svc: StorageService, session: Session, folder: Path, offset: int) -> int:
    """Append the body at `offset`; store the object when the last byte is in."""
    info = await asyncio.to_thread(_read_info, folder)
    _same_caller(info, session)
    with _locked(folder):
        current = _offset(folder, info)
        if info.get("done") or offset != current:
            raise errors.StorageError(409, "InvalidRequest", f"Upload-Offset {offset} does not match {current}")
        length = int(info["length"])
        reached = await _write_body(request.stream(), folder / "data", current, length)
        if reached == length:
            await _finish(svc, session, folder, info)
    return reached


async def _write_body(body: AsyncIterator[bytes], path: Path, offset: int, length: int) -> int:
    """Append what arrives; what came before a dropped connection stays (the client resumes)."""
    handle = await asyncio.to_thread(open, path, "ab")
    pending = bytearray()
    try:
        async for chunk in body:
            offset += len(chunk)
            if offset > length:
                raise errors.invalid_request("The body exceeds Upload-Length")
            pending += chunk
            if len(pending) >= FLUSH_BYTES:
                block, pending = bytes(pending), bytearray()
                await asyncio.to_thread(handle.write, block)
    finally:
        if pending and offset <= length:
            await asyncio.to_thread(handle.write, bytes(pending))
        await asyncio.to_thread(handle.close)
    return offset


async def _finish(svc: StorageService, session: Session, folder: Path, info: dict[str, Any]) -> None:
    import hashlib

    from localbase.storage.receive import Received

    data = folder / "data"

    def digest() -> str:
        md5 = hashlib.md5(usedforsecurity=False)
        with open(data, "rb") as fh:
            while block := fh.read(FLUSH_BYTES):
                md5.update(block)
            os.fsync(fh.fileno())
        return f'"{md5.hexdigest()}"'

    received = Received(data, int(info["length"]), await asyncio.to_thread(digest), info["mimetype"],
                        info["cache_control"], info.get("user_metadata"))
    try:
        await writes.commit(svc, session, info["bucket"], info["key"], received, upsert=info["upsert"],
                             owner_id=info.get("owner"))
    except BaseException:
        await asyncio.to_thread(_discard, folder)  # a refused upload is gone; the client starts over
        raise
    info["done"] = True
    await asyncio.to_thread(_write_info, folder, info)


async def terminate(svc: StorageService, session: Session, upload_id: str) -> Response:
    folder = _folder(svc, upload_id)
    info = await asyncio.to_thread(_read_info, folder)
    _same_caller(info, session)
    with _locked(folder):
        await asyncio.to_thread(_discard, folder)
    return Response(status_code=204, headers=_headers())
