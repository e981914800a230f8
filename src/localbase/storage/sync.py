"""Buckets declared in config.toml ([storage.buckets.<name>], as the Supabase CLI seeds them) are
created at start, or brought to their declared settings when they exist."""

from __future__ import annotations

import logging

from localbase.storage.config import BucketSpec

log = logging.getLogger("localbase.storage")


async def sync_buckets(db, specs: tuple[BucketSpec, ...]) -> None:
    if not specs:
        return
    conn = await db.admin_connection()
    try:
        async with conn.transaction():
            for spec in specs:
                await conn.execute(
                    "insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types) "
                    "values ($1, $1, $2, $3, $4) on conflict (id) do update set public = excluded.public, "
                    "file_size_limit = excluded.file_size_limit, allowed_mime_types = excluded.allowed_mime_types, "
                    "updated_at = now()",
                    spec.name, spec.public, spec.file_size_limit,
                    list(spec.allowed_mime_types) if spec.allowed_mime_types else None)
    finally:
        await conn.close()
    log.info("storage: %d bucket(s) from config.toml", len(specs))
