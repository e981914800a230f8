"""Receive stage: an upload's body -> a finished temporary file, never held in memory.

Bodies come as Supabase's clients send them: multipart/form-data (a file part, plus the fields
cacheControl, contentType, metadata) or the raw bytes with Content-Type, Cache-Control and
x-metadata (base64 JSON) headers. Bytes are counted against the size limit as they arrive and
written (with their MD5, the ETag) in 1 MiB steps off the event loop; the file is fsynced before
it is handed on. Any failure removes the temporary file."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from python_multipart.multipart import MultipartParser, parse_options_header

from localbase.storage import errors
from localbase.storage.names import mime_allowed

FLUSH_BYTES = 1024 * 1024
MAX_USER_METADATA = 1024 * 1024  # as Storage: larger custom metadata is refused
MAX_FIELDS_BYTES = 2 * 1024 * 1024  # all non-file form fields together
DEFAULT_MIME = "application/octet-stream"


@dataclass
class Received:
    path: Path
    size: int
    etag: str
    mimetype: str
    cache_control: str
    user_metadata: dict[str, Any] | None = None

    def metadata(self, last_modified: str) -> dict[str, Any]:
        """The object row's `metadata`, with Storage's keys."""
        return {"eTag": self.etag, "size": self.size, "mimetype": self.mimetype, "cacheControl": self.cache_control,
                "lastModified": last_modified, "contentLength": self.size, "httpStatusCode": 200}


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    allowed_mime_types: list[str] | None = None


class TempFile:
    """A temporary file in the storage folder, written in steps off the event loop, with its MD5."""

    def __init__(self, folder: Path, max_bytes: int):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{uuid.uuid4().hex}.upload"
        self.handle = open(self.path, "wb")  # noqa: SIM115 - closed in finish()/discard()
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.max_bytes = max_bytes
        self.size = 0
        self.pending = bytearray()

    async def add(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise errors.entity_too_large()
        self.pending += data
        if len(self.pending) >= FLUSH_BYTES:
            await self.flush()

    async def flush(self) -> None:
        if self.pending:
            block, self.pending = bytes(self.pending), bytearray()
            await asyncio.to_thread(self._write, block)

    def _write(self, block: bytes) -> None:
        self.handle.write(block)
        self.md5.update(block)

    async def finish(self) -> tuple[Path, int, str]:
        await self.flush()
        await asyncio.to_thread(self._sync)
        return self.path, self.size, f'"{self.md5.hexdigest()}"'

    def _sync(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()

    def discard(self) -> None:
        if not self.handle.closed:
            self.handle.close()
        self.path.unlink(missing_ok=True)


def user_metadata_json(raw: str | bytes) -> dict[str, Any] | None:
    if len(raw) > MAX_USER_METADATA:
        raise errors.entity_too_large("user_metadata")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None  # as Storage: unreadable custom metadata is ignored
    return value if isinstance(value, dict) else None


def _header_metadata(value: str | None) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        return user_metadata_json(base64.b64decode(value, validate=False))
    except (binascii.Error, ValueError):
        return None


def _check_mime(mime: str, limits: Limits) -> None:
    if not mime_allowed(mime, limits.allowed_mime_types):
        raise errors.invalid_mime_type(mime)


async def receive(stream: AsyncIterator[bytes], headers, folder: Path, limits: Limits) -> Received:
    """Read the whole body into a temporary file under `folder`."""
    content_type = headers.get("content-type") or ""
    declared = headers.get("content-length")
    is_form = content_type.lower().startswith("multipart/form-data")
    if not is_form and declared and declared.isdigit() and int(declared) > limits.max_bytes:
        raise errors.entity_too_large()
    target = TempFile(folder, limits.max_bytes)
    try:
        if is_form:
            form = _Form(content_type, target, limits)
            async for chunk in stream:
                await form.feed(chunk)
            await form.end()
            mime, cache, meta = form.mimetype, form.cache_control, form.user_metadata
        else:
            mime = content_type or DEFAULT_MIME
            _check_mime(mime, limits)
            cache = headers.get("cache-control") or "no-cache"
            meta = _header_metadata(headers.get("x-metadata"))
            async for chunk in stream:
                await target.add(chunk)
        path, size, etag = await target.finish()
        return Received(path, size, etag, mime, cache, meta)
    except BaseException:
        target.discard()
        raise


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    field_name: bytes = b""
    value: bytes = b""


class _Form:
    """multipart/form-data with one file part streamed to the temporary file."""

    def __init__(self, content_type: str, target: TempFile, limits: Limits):
        _, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if not boundary:
            raise errors.invalid_request("multipart/form-data without a boundary")
        self.target = target
        self.limits = limits
        self.fields: dict[str, str] = {}
        self.fields_bytes = 0
        self.file_mime: str | None = None
        self.file_seen = False
        self.in_file = False
        self.part = _Part()
        self.header_name = b""
        self.header_value = b""
        self.file_data: list[bytes] = []
        self.field_data: list[bytes] = []
        self.parser = MultipartParser(boundary, {
            "on_part_begin": self._part_begin, "on_part_data": self._part_data, "on_part_end": self._part_end,
            "on_header_field": self._header_field, "on_header_value": self._header_value,
            "on_header_end": self._header_end, "on_headers_finished": self._headers_finished,
        })

    # -- parser callbacks (synchronous; file bytes are queued and written by feed) ----------------
    def _part_begin(self) -> None:
        self.part = _Part()
        self.in_file = False
        self.field_data = []

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def _header_end(self) -> None:
        self.part.headers[self.header_name.decode("latin-1").lower()] = self.header_value.decode("latin-1")
        self.header_name = self.header_value = b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self.part.headers.get("content-disposition", ""))
        name = params.get(b"name", b"")
        is_file = b"filename" in params or name in (b"file", b"")
        if is_file and not self.file_seen:
            self.file_seen = self.in_file = True
            self.file_mime = self.part.headers.get("content-type") or None
            mime = self.fields.get("contentType") or self.file_mime or DEFAULT_MIME
            _check_mime(mime, self.limits)
        self.part.field_name = name

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            self.file_data.append(data[start:end])
            return
        self.fields_bytes += end - start
        if self.fields_bytes > MAX_FIELDS_BYTES:
            raise errors.entity_too_large("form fields")
        self.field_data.append(data[start:end])

    def _part_end(self) -> None:
        if not self.in_file and self.part.field_name:
            self.fields[self.part.field_name.decode("utf-8", "replace")] = \
                b"".join(self.field_data).decode("utf-8", "replace")
        self.in_file = False

    # -- driving ----------------------------------------------------------------------------------
    async def feed(self, chunk: bytes) -> None:
        try:
            self.parser.write(chunk)
        except errors.StorageError:
            raise
        except Exception as exc:  # python_multipart's parse errors: the client's malformed body
            raise errors.invalid_request(f"malformed multipart body: {type(exc).__name__}") from None
        data, self.file_data = self.file_data, []
        for block in data:
            await self.target.add(block)

    async def end(self) -> None:
        self.parser.finalize()
        if not self.file_seen:
            raise errors.no_content()
        _check_mime(self.mimetype, self.limits)

    @property
    def mimetype(self) -> str:
        return self.fields.get("contentType") or self.file_mime or DEFAULT_MIME

    @property
    def cache_control(self) -> str:
        value = self.fields.get("cacheControl")
        return f"max-age={value}" if value else "no-cache"

    @property
    def user_metadata(self) -> dict[str, Any] | None:
        raw = self.fields.get("metadata") or self.fields.get("userMetadata")
        return user_metadata_json(raw) if raw else None
