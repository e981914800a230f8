"""Objects: rows of storage.objects read, listed, moved and removed as the caller (RLS decides);
their bytes in the backend under a version id (uploads and copies: writes.py). A move is a change
of row only; a removal takes the rows in one transaction, then their bytes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import orjson

from localbase.storage import buckets, errors, names
from localbase.storage.service import StorageService
from localbase.storage.session import ALLOW_DELETE, Session, owner_uuid, transaction

log = logging.getLogger("localbase.storage")

MAX_PREFIXES = 1000  # objects removed per request, as Storage
_ROW = ("id, bucket_id, name, version, metadata, user_metadata, created_at, updated_at, last_accessed_at, "
        "coalesce(owner::text, '') as owner, coalesce(owner_id, '') as owner_id")


@dataclass(frozen=True)
class StoredObject:
    id: str
    bucket_id: str
    name: str
    version: str
    metadata: dict[str, Any]
    user_metadata: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime

    @property
    def size(self) -> int:
        return int(self.metadata.get("size") or 0)

    @property
    def etag(self) -> str:
        return str(self.metadata.get("eTag") or f'"{self.version}"')

    @property
    def mimetype(self) -> str:
        return str(self.metadata.get("mimetype") or "application/octet-stream")

    @property
    def cache_control(self) -> str:
        return str(self.metadata.get("cacheControl") or "no-cache")

    def info(self) -> dict[str, Any]:
        """GET /object/info: Storage's shape."""
        return {"id": self.id, "name": self.name, "version": self.version, "bucket_id": self.bucket_id,
                "size": self.size, "content_type": self.mimetype, "cache_control": self.cache_control,
                "etag": self.etag, "metadata": self.user_metadata, "last_modified": self.updated_at.isoformat(),
                "created_at": self.created_at.isoformat()}


def _stored(row) -> StoredObject:
    return StoredObject(str(row["id"]), row["bucket_id"], row["name"], row["version"] or "", row["metadata"] or {},
                        row["user_metadata"], row["created_at"], row["updated_at"])


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


# -- reading ------------------------------------------------------------------------------------

async def _one(conn, bucket_id: str, name: str) -> StoredObject:
    row = await conn.fetchrow(f"select {_ROW} from storage.objects where bucket_id = $1 and name = $2",
                              bucket_id, name)
    if row is None:
        raise errors.no_such_key()
    return _stored(row)


async def find(svc: StorageService, session: Session, bucket_id: str, name: str) -> StoredObject:
    """The object as the caller may see it (SELECT policies), else 404."""
    names.bucket_name(bucket_id)
    names.object_key(name)
    async with transaction(svc.db, session, read_only=True) as conn:
        return await _one(conn, bucket_id, name)


async def find_public(svc: StorageService, session: Session, bucket_id: str, name: str) -> StoredObject:
    """An object of a public bucket, for anyone; a private bucket answers as a missing one."""
    names.bucket_name(bucket_id)
    names.object_key(name)
    async with transaction(svc.db, session.as_service(), read_only=True) as conn:
        if not await conn.fetchval("select public from storage.buckets where id = $1", bucket_id):
            raise errors.no_such_bucket()
        return await _one(conn, bucket_id, name)


async def find_signed(svc: StorageService, session: Session, bucket_id: str, name: str) -> StoredObject:
    """An object a verified signed URL names (the token is the authority)."""
    async with transaction(svc.db, session.as_service(), read_only=True) as conn:
        return await _one(conn, bucket_id, name)


async def visible(svc: StorageService, session: Session, bucket_id: str, keys: list[str]) -> set[str]:
    """Which of these keys the caller can see (for signing several URLs)."""
    async with transaction(svc.db, session, read_only=True) as conn:
        rows = await conn.fetch("select name from storage.objects where bucket_id = $1 and name = any($2::text[])",
                                bucket_id, keys)
    return {row["name"] for row in rows}


async def list_folder(svc: StorageService, session: Session, bucket_id: str, body: dict[str, Any]) -> str:
    """POST /object/list: one level below `prefix` (folders and objects), as storage.search returns it."""
    names.bucket_name(bucket_id)
    prefix = body.get("prefix") or ""
    if not isinstance(prefix, str) or "\x00" in prefix:
        raise errors.invalid_parameter("prefix")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    sort = body.get("sortBy") or {}
    if not isinstance(sort, dict):
        raise errors.invalid_parameter("sortBy")
    search = body.get("search") or ""
    try:
        limit, offset = int(body.get("limit") or 100), int(body.get("offset") or 0)
    except (TypeError, ValueError):
        raise errors.invalid_parameter("limit") from None
    if not isinstance(search, str):
        raise errors.invalid_parameter("search")
    async with transaction(svc.db, session, read_only=True) as conn:
        return await conn.fetchval(
            "select coalesce(json_agg(s), '[]')::text from storage.search($1, $2, $3, $4, $5, $6, $7, $8) s",
            prefix, bucket_id, limit, len((prefix + search).split("/")), offset, search,
            str(sort.get("column") or "name"), str(sort.get("order") or "asc"))


# -- changing ------------------------------------------------------------------------------------

async def move(svc: StorageService, session: Session, body: dict[str, Any]) -> dict[str, str]:
    """Rename (and re-home) an object: one UPDATE as the caller, the bytes untouched."""
    bucket_id = names.bucket_name(body.get("bucketId"))
    source = names.object_key(body.get("sourceKey"))
    target_bucket = names.bucket_name(body.get("destinationBucket") or bucket_id)
    target = names.object_key(body.get("destinationKey"))
    owner = session.owner_id
    async with transaction(svc.db, session) as conn:
        moved = await conn.fetchval(
            "update storage.objects set bucket_id = $3, name = $4, owner = $5::uuid, owner_id = $6, "
            "last_accessed_at = now() where bucket_id = $1 and name = $2 returning id",
            bucket_id, source, target_bucket, target, owner_uuid(owner), owner)
    if moved is None:
        raise errors.no_such_key()
    return {"message": "Successfully moved"}


async def remove(svc: StorageService, session: Session, bucket_id: str, keys: Any) -> str:
    """DELETE /object/<bucket> {prefixes}: the objects the caller may delete go (rows, then bytes);
    answers what was removed."""
    names.bucket_name(bucket_id)
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise errors.invalid_parameter("prefixes", "prefixes must be a list of object keys")
    if not keys:
        raise errors.missing_parameter("prefixes")
    if len(keys) > MAX_PREFIXES:
        raise errors.invalid_request(f"Bulk object requests are limited to {MAX_PREFIXES} objects per request.")
    async with transaction(svc.db, session) as conn:
        await conn.fetchval(ALLOW_DELETE)
        rows = await conn.fetch(f"delete from storage.objects where bucket_id = $1 and name = any($2::text[]) "
                                f"returning {_ROW}", bucket_id, keys)
    await svc.forget([row["version"] for row in rows if row["version"]])
    return orjson.dumps([_listed(row) for row in rows]).decode()


def _listed(row) -> dict[str, Any]:
    return {"name": row["name"], "bucket_id": row["bucket_id"], "owner": row["owner"], "owner_id": row["owner_id"],
            "version": row["version"], "id": str(row["id"]), "updated_at": row["updated_at"].isoformat(),
            "created_at": row["created_at"].isoformat(), "last_accessed_at": row["last_accessed_at"].isoformat(),
            "metadata": row["metadata"], "user_metadata": row["user_metadata"]}


async def delete_one(svc: StorageService, session: Session, bucket_id: str, name: str) -> dict[str, str]:
    names.bucket_name(bucket_id)
    names.object_key(name)
    async with transaction(svc.db, session) as conn:
        await conn.fetchval(ALLOW_DELETE)
        version = await conn.fetchval("delete from storage.objects where bucket_id = $1 and name = $2 "
                                      "returning coalesce(version, '')", bucket_id, name)
    if version is None:
        raise errors.no_such_key()
    await svc.forget([version] if version else [])
    return {"message": "Successfully deleted"}


async def empty(svc: StorageService, session: Session, bucket_id: str) -> dict[str, str]:
    """POST /bucket/<id>/empty: every object of the bucket the caller may delete goes."""
    names.bucket_name(bucket_id)
    await buckets.exists_for(svc.db, session, bucket_id)
    async with transaction(svc.db, session) as conn:
        await conn.fetchval(ALLOW_DELETE)
        versions = await conn.fetch("delete from storage.objects where bucket_id = $1 returning version", bucket_id)
    await svc.forget([row["version"] for row in versions if row["version"]])
    return {"message": "Successfully emptied"}
