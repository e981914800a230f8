"""Buckets through supabase-py (sync and async): create / get / list / update / empty / delete,
with Storage's refusals; buckets declared in config.toml exist with their settings."""

from __future__ import annotations

import uuid

import pytest
from storage3.exceptions import StorageApiError

from tests.localbase.helpers import sql
from tests.localbase.storage.conftest import async_client_for


def _name() -> str:
    return f"b-{uuid.uuid4().hex[:10]}"


def test_create_get_list_update_delete(service):
    name = _name()
    assert service.storage.create_bucket(name, options={"public": True, "file_size_limit": 1024,
                                                        "allowed_mime_types": ["image/png"]}) == {"name": name}
    got = service.storage.get_bucket(name)
    assert (got.id, got.name, got.public, got.file_size_limit, got.allowed_mime_types) == \
        (name, name, True, 1024, ["image/png"])
    assert name in [b.id for b in service.storage.list_buckets()]
    updated = service.storage.update_bucket(name, {"public": False, "file_size_limit": "2KB",
                                                   "allowed_mime_types": ["text/*"]})
    assert updated == {"message": "Successfully updated"}
    got = service.storage.get_bucket(name)
    assert (got.public, got.file_size_limit, got.allowed_mime_types) == (False, 2000, ["text/*"])
    assert service.storage.delete_bucket(name) == {"message": "Successfully deleted"}
    with pytest.raises(StorageApiError) as missing:
        service.storage.get_bucket(name)
    assert (missing.value.status, missing.value.code) == ("404", "Bucket not found")


def test_refusals(service):
    name = _name()
    service.storage.create_bucket(name)
    try:
        with pytest.raises(StorageApiError) as duplicate:
            service.storage.create_bucket(name)
        assert duplicate.value.status == "409" and duplicate.value.message == "The resource already exists"
        service.storage.from_(name).upload("x.txt", b"x")
        with pytest.raises(StorageApiError) as not_empty:
            service.storage.delete_bucket(name)
        assert not_empty.value.status == "409"
        assert not_empty.value.message == "The bucket you tried to delete is not empty"
        assert service.storage.empty_bucket(name) == {"message": "Successfully emptied"}
        assert service.storage.from_(name).list() == []
    finally:
        service.storage.empty_bucket(name)
        service.storage.delete_bucket(name)
    for bad in ("a/b", " lead", "", "x" * 101, ".."):
        with pytest.raises(StorageApiError) as invalid:
            service.storage.create_bucket(bad) if bad else service.storage._request("POST", ["bucket"], json={})
        assert invalid.value.status == "400", bad
    with pytest.raises(StorageApiError) as too_large:  # more than [storage] file_size_limit (2GiB)
        service.storage.create_bucket(_name(), options={"file_size_limit": "3GB"})
    assert too_large.value.status == "413"
    with pytest.raises(StorageApiError) as mime:
        service.storage.create_bucket(_name(), options={"allowed_mime_types": ["not a mime"]})
    assert mime.value.status == "415"
    with pytest.raises(StorageApiError) as unknown:
        service.storage.update_bucket("no-such-bucket", {"public": True})
    assert unknown.value.status == "404"


def test_bucket_rows_follow_rls(storage_server, signed_up, anon, service):
    """storage.buckets has RLS: the migration lets signed-in users see buckets, anon sees none,
    and nobody but the service role may create one (no INSERT policy)."""
    user, client = signed_up()
    assert {"avatars", "private-files"} <= {b.id for b in client.storage.list_buckets()}
    assert anon.storage.list_buckets() == []
    with pytest.raises(StorageApiError) as denied:
        client.storage.create_bucket(_name())
    assert denied.value.status == "403" and "row-level security" in denied.value.message
    name = _name()
    service.storage.create_bucket(name)
    try:
        rows = sql(storage_server, "select owner, owner_id from storage.buckets where id = $1", name)
        assert rows[0]["owner"] is None  # created with the service key: no user owns it
    finally:
        service.storage.delete_bucket(name)


def test_config_declared_bucket(service):
    got = service.storage.get_bucket("config-declared")
    assert (got.public, got.file_size_limit, got.allowed_mime_types) == (True, 1024 * 1024, ["image/png", "text/plain"])


async def test_async_client(storage_server):
    client = await async_client_for(storage_server, key=storage_server.service_role_key)
    name = _name()
    assert await client.storage.create_bucket(name, options={"public": True}) == {"name": name}
    assert (await client.storage.get_bucket(name)).public is True
    assert name in [b.id for b in await client.storage.list_buckets()]
    assert await client.storage.update_bucket(name, {"public": False}) == {"message": "Successfully updated"}
    assert await client.storage.empty_bucket(name) == {"message": "Successfully emptied"}
    assert await client.storage.delete_bucket(name) == {"message": "Successfully deleted"}
