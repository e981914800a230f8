"""Writes: uploads and copies. The bytes are stored first under a new version, then one
transaction as the caller inserts or updates the row naming it (the caller's INSERT / UPDATE
policies decide); if that fails the new version is removed, and once it commits the version it
replaced is removed. So a row never names bytes that are not there, and a crash at any point
leaves at most an unnamed version, which the sweep removes.

A small upload (a declared length up to SMALL_BODY) is received first and checked against its
bucket's limits inside the writing transaction: one transaction in all. A larger one (or one of
unknown length) is checked before its body is read: the bucket's limits and the caller's right to
write (the same statement, rolled back), so a refusal costs no upload."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from localbase.storage import errors, names
from localbase.storage.objects import find, http_date
from localbase.storage.receive import Limits, Received, receive
from localbase.storage.service import StorageService
from localbase.storage.session import Session, owner_uuid, transaction

SMALL_BODY = 1024 * 1024
_INSERT = ("insert into storage.objects (bucket_id, name, owner, owner_id, version, metadata, user_metadata) "
           "values ($1, $2, $3::uuid, $4, $5, $6::jsonb, $7::jsonb)")
_UPSERT = ("with previous as (select version from storage.objects where bucket_id = $1 and name = $2) "
           + _INSERT + " on conflict (bucket_id, name) do update set owner = excluded.owner, "
           "owner_id = excluded.owner_id, version = excluded.version, metadata = excluded.metadata, "
           "user_metadata = excluded.user_metadata, last_accessed_at = now() "
           "returning id, (select version from previous) as previous")
_LIMITS = "select file_size_limit, allowed_mime_types from storage.localbase_bucket_limits($1)"


def _statement(upsert: bool) -> str:
    return _UPSERT if upsert else _INSERT + " returning id, null::text as previous"


async def _limits(conn, svc: StorageService, bucket_id: str, name: str) -> Limits:
    """The bucket's limits (within the server's own), read inside the caller's transaction."""
    row = await conn.fetchrow(_LIMITS, bucket_id)
    if row is None:
        raise errors.no_such_bucket()
    if name.rsplit("/", 1)[-1] == names.EMPTY_FOLDER:
        return Limits(0)  # as Storage: a folder placeholder has no bytes
    size = svc.config.file_size_limit
    return Limits(min(row["file_size_limit"] or size, size), row["allowed_mime_types"])


def _declared_small(headers) -> bool:
    length = headers.get("content-length")
    return bool(length and length.isdigit() and int(length) <= SMALL_BODY)


async def may_write(svc: StorageService, session: Session, bucket_id: str, name: str, owner_id: str | None, *,
                    upsert: bool) -> Limits:
    """The bucket's limits, once the caller's policies let this row be written: the write itself,
    rolled back (as Storage tests its permissions), refused with the error the real one would get."""
    async with transaction(svc.db, session, rollback=True) as conn:
        limits = await _limits(conn, svc, bucket_id, name)
        await conn.fetchrow(_statement(upsert), bucket_id, name, owner_uuid(owner_id), owner_id, "0" * 32, None, None)
    return limits


async def upload(svc: StorageService, session: Session, bucket_id: str, name: str, body: AsyncIterator[bytes],
                 headers, *, upsert: bool, owner_id: str | None) -> dict[str, str]:
    names.bucket_name(bucket_id)
    names.object_key(name)
    if _declared_small(headers):
        received = await receive(body, headers, svc.tmp, Limits(SMALL_BODY))
        return await commit(svc, session, bucket_id, name, received, upsert=upsert, owner_id=owner_id, checked=False)
    limits = await may_write(svc, session, bucket_id, name, owner_id, upsert=upsert)
    received = await receive(body, headers, svc.tmp, limits)
    return await commit(svc, session, bucket_id, name, received, upsert=upsert, owner_id=owner_id)


async def commit(svc: StorageService, session: Session, bucket_id: str, name: str, received: Received, *,
                 upsert: bool, owner_id: str | None, checked: bool = True) -> dict[str, str]:
    """Store a received file as the object's new version and commit its row as the caller; unless
    `checked`, the bucket's limits are checked in the same transaction."""
    version = await svc.store(received.path)

    async def check(conn) -> None:
        limits = await _limits(conn, svc, bucket_id, name)
        if received.size > limits.max_bytes:
            raise errors.entity_too_large()
        if not names.mime_allowed(received.mimetype, limits.allowed_mime_types):
            raise errors.invalid_mime_type(received.mimetype)
    metadata = received.metadata(http_date(datetime.now(UTC)))
    row_id = await _write_row(svc, session, version, (bucket_id, name, metadata, received.user_metadata, owner_id),
                              upsert, None if checked else check)
    return {"Id": row_id, "Key": f"{bucket_id}/{name}"}


async def _write_row(svc: StorageService, session: Session, version: str, row: tuple, upsert: bool,
                     check: Callable[[Any], Awaitable[None]] | None = None) -> str:
    """Commit the row (bucket, name, metadata, user metadata, owner) naming a stored version, as the
    caller; the version goes if it does not commit, the one it replaced once it does."""
    bucket_id, name, metadata, user_metadata, owner_id = row
    try:
        async with transaction(svc.db, session) as conn:
            if check is not None:
                await check(conn)
            written = await conn.fetchrow(_statement(upsert), bucket_id, name, owner_uuid(owner_id), owner_id,
                                          version, metadata, user_metadata)
    except BaseException:
        await svc.forget([version])
        raise
    finally:
        svc.settled(version)
    if written["previous"] and written["previous"] != version:
        await svc.forget([written["previous"]])
    return str(written["id"])


async def copy(svc: StorageService, session: Session, body: dict[str, Any], *, upsert: bool) -> dict[str, str]:
    """Copy within or across buckets: read the source as the caller, store its bytes again under a
    new version, write the destination row as the caller."""
    bucket_id = names.bucket_name(body.get("bucketId"))
    source = names.object_key(body.get("sourceKey"))
    target_bucket = names.bucket_name(body.get("destinationBucket") or bucket_id)
    target = names.object_key(body.get("destinationKey"))
    original = await find(svc, session, bucket_id, source)
    metadata = dict(original.metadata)
    user_metadata = original.user_metadata
    if body.get("copyMetadata") is False:
        given = body.get("metadata")
        override: dict[str, Any] = given if isinstance(given, dict) else {}
        for key, column in (("cacheControl", "cacheControl"), ("contentType", "mimetype"), ("mimetype", "mimetype")):
            if isinstance(override.get(key), str):
                metadata[column] = override[key]
        user_metadata = None
    metadata["lastModified"] = http_date(datetime.now(UTC))
    version = await svc.duplicate(original.version)
    row_id = await _write_row(svc, session, version, (target_bucket, target, metadata, user_metadata,
                                                      session.owner_id), upsert)
    return {"Id": row_id, "Key": f"{target_bucket}/{target}"}
