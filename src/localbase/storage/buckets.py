"""Buckets: rows of storage.buckets, read and written as the caller (RLS decides), answered in
Storage's shapes. Statements return JSON text built by PostgreSQL, sent as it is."""

from __future__ import annotations

from typing import Any

from localbase.storage import errors, names
from localbase.storage.session import ALLOW_DELETE, Session, owner_uuid, transaction

_COLUMNS = ("id, name, coalesce(owner::text, '') as owner, coalesce(owner_id, '') as owner_id, "
            "coalesce(public, false) as public, type, file_size_limit, allowed_mime_types, created_at, updated_at")
_LIST_SORT = ("id", "name", "created_at", "updated_at")


def _limits(body: dict[str, Any], global_limit: int) -> dict[str, Any]:
    """The bucket settings present in the body, validated (only these columns are ever written)."""
    values: dict[str, Any] = {}
    if "public" in body and body["public"] is not None:
        if not isinstance(body["public"], bool):
            raise errors.invalid_parameter("public", "public must be a boolean")
        values["public"] = body["public"]
    if "file_size_limit" in body:
        size = names.api_size(body["file_size_limit"])
        if size is not None and size > global_limit:
            raise errors.entity_too_large()
        values["file_size_limit"] = size
    if "allowed_mime_types" in body:
        values["allowed_mime_types"] = names.allowed_mime_types(body["allowed_mime_types"])
    return values


async def create(db, session: Session, body: dict[str, Any], global_limit: int) -> dict[str, Any]:
    name = body.get("name") or body.get("id")
    bucket_id = names.bucket_name(body.get("id") or name)
    names.bucket_name(name)
    values = _limits(body, global_limit)
    owner = session.owner_id
    async with transaction(db, session) as conn:
        await conn.execute(
            "insert into storage.buckets (id, name, owner, owner_id, public, file_size_limit, allowed_mime_types) "
            "values ($1, $2, $3::uuid, $4, $5, $6, $7)", bucket_id, name, owner_uuid(owner), owner,
            values.get("public", False), values.get("file_size_limit"), values.get("allowed_mime_types"))
    return {"name": name}


async def get(db, session: Session, bucket_id: str) -> str:
    names.bucket_name(bucket_id)
    async with transaction(db, session, read_only=True) as conn:
        found = await conn.fetchval(f"select row_to_json(b)::text from (select {_COLUMNS} from storage.buckets "
                                    "where id = $1) b", bucket_id)
    if found is None:
        raise errors.no_such_bucket()
    return found


async def list_all(db, session: Session, query) -> str:
    """GET /bucket, with Storage's optional limit, offset, sortColumn, sortOrder and search."""
    sort = query.get("sortColumn") or "name"
    if sort not in _LIST_SORT:
        raise errors.invalid_parameter("sortColumn")
    order = "desc" if (query.get("sortOrder") or "asc").lower() == "desc" else "asc"
    try:
        limit = int(query["limit"]) if query.get("limit") else None
        offset = int(query["offset"]) if query.get("offset") else 0
    except ValueError:
        raise errors.invalid_parameter("limit") from None
    search = query.get("search") or ""
    async with transaction(db, session, read_only=True) as conn:
        return await conn.fetchval(
            f"select coalesce(json_agg(b), '[]')::text from (select {_COLUMNS} from storage.buckets "
            f"where strpos(lower(name), lower($1)) > 0 order by {sort} {order}, id limit $2 offset $3) b",
            search, limit, max(offset, 0))


async def update(db, session: Session, bucket_id: str, body: dict[str, Any], global_limit: int) -> dict[str, str]:
    names.bucket_name(bucket_id)
    values = _limits(body, global_limit)
    if not values:
        raise errors.no_content()
    assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(values, start=2))  # whitelisted names
    async with transaction(db, session) as conn:
        updated = await conn.fetchval(f"update storage.buckets set {assignments}, updated_at = now() where id = $1 "
                                      "returning id", bucket_id, *values.values())
    if updated is None:
        raise errors.no_such_bucket()
    return {"message": "Successfully updated"}


async def delete(db, session: Session, bucket_id: str) -> dict[str, str]:
    """Refused while the bucket holds objects (409, as Storage), whoever can see them."""
    names.bucket_name(bucket_id)
    async with transaction(db, session) as conn:
        await conn.fetchval(ALLOW_DELETE)
        deleted = await conn.fetchval("delete from storage.buckets where id = $1 returning id", bucket_id)
    if deleted is None:
        raise errors.no_such_bucket()
    return {"message": "Successfully deleted"}


async def exists_for(db, session: Session, bucket_id: str) -> None:
    """404 unless the caller can see the bucket."""
    async with transaction(db, session, read_only=True) as conn:
        if await conn.fetchval("select 1 from storage.buckets where id = $1", bucket_id) is None:
            raise errors.no_such_bucket()
