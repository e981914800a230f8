"""Objects through supabase-py (sync and async): upload (POST, upsert, PUT, content type,
cache-control, metadata), streamed download with Range and ETag / If-None-Match, list (folders,
limit, offset, sortBy, search), info / exists, move, copy within and across buckets, remove."""

from __future__ import annotations

import hashlib
import uuid

import httpx
import pytest
from storage3.exceptions import StorageApiError

from tests.localbase.helpers import sql
from tests.localbase.storage.conftest import async_client_for


def test_upload_options_and_info(service, bucket, storage_server):
    files = service.storage.from_(bucket)
    result = files.upload("docs/report.csv", b"a,b\n1,2\n", {"content-type": "text/csv", "cache-control": "120",
                                                             "metadata": {"team": "ops", "n": 2}})
    assert (result.path, result.full_path) == ("docs/report.csv", f"{bucket}/docs/report.csv")
    info = files.info("docs/report.csv")
    assert (info["size"], info["content_type"], info["cache_control"], info["metadata"]) == \
        (8, "text/csv", "max-age=120", {"team": "ops", "n": 2})
    digest = hashlib.md5(b"a,b\n1,2\n").hexdigest()
    assert info["etag"] == f'"{digest}"'
    assert files.exists("docs/report.csv") is True and files.exists("docs/none.csv") is False
    with pytest.raises(StorageApiError) as duplicate:  # POST without upsert: the key is taken
        files.upload("docs/report.csv", b"other")
    assert duplicate.value.status == "409"
    files.upload("docs/report.csv", b"replaced", {"upsert": "true", "content-type": "text/plain"})
    assert files.download("docs/report.csv") == b"replaced"
    files.update("docs/report.csv", b"updated by PUT")
    assert files.download("docs/report.csv") == b"updated by PUT"
    # the replaced versions' bytes are gone: one row, one stored version
    version = sql(storage_server, "select version from storage.objects where bucket_id = $1", bucket)[0]["version"]
    stored = list((storage_server.data_dir / "storage" / "objects").rglob("*"))
    assert [p.name for p in stored if p.is_file() and p.name == version] == [version]
    assert not any(p.is_file() and len(p.name) == 32 and p.name != version and _owned_by(storage_server, p.name, bucket)
                   for p in stored)


def _owned_by(server, version: str, bucket: str) -> bool:
    return bool(sql(server, "select 1 from storage.objects where version = $1 and bucket_id = $2", version, bucket))


def test_raw_body_upload_with_headers(storage_server, service, bucket):
    """supabase-js sends raw bytes with content-type, cache-control and base64 x-metadata headers."""
    import base64
    response = httpx.post(f"{storage_server.url}/storage/v1/object/{bucket}/raw.bin", content=b"\x00\x01\x02",
                          headers={"Authorization": f"Bearer {storage_server.service_role_key}",
                                   "content-type": "application/x-thing", "cache-control": "max-age=60",
                                   "x-metadata": base64.b64encode(b'{"k": "v"}').decode()})
    assert response.status_code == 200, response.text
    assert response.json()["Key"] == f"{bucket}/raw.bin"
    info = service.storage.from_(bucket).info("raw.bin")
    assert (info["content_type"], info["cache_control"], info["metadata"], info["size"]) == \
        ("application/x-thing", "max-age=60", {"k": "v"}, 3)


def test_download_streams_ranges_and_etags(storage_server, service, bucket):
    body = bytes(range(256)) * 4096  # 1 MiB
    service.storage.from_(bucket).upload("blob.bin", body, {"content-type": "application/octet-stream"})
    url = f"{storage_server.url}/storage/v1/object/{bucket}/blob.bin"
    auth = {"Authorization": f"Bearer {storage_server.service_role_key}"}
    with httpx.stream("GET", url, headers=auth) as whole:
        assert whole.status_code == 200 and whole.headers["content-length"] == str(len(body))
        assert whole.headers["accept-ranges"] == "bytes" and whole.headers["content-type"] == "application/octet-stream"
        assert b"".join(whole.iter_bytes()) == body
        etag = whole.headers["etag"]
    part = httpx.get(url, headers={**auth, "Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == body[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(body)}"
    tail = httpx.get(url, headers={**auth, "Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == body[-10:]
    open_ended = httpx.get(url, headers={**auth, "Range": f"bytes={len(body) - 5}-"})
    assert open_ended.content == body[-5:]
    beyond = httpx.get(url, headers={**auth, "Range": f"bytes={len(body)}-"})
    assert beyond.status_code == 416 and beyond.json()["statusCode"] == "416"
    cached = httpx.get(url, headers={**auth, "If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b""
    stale = httpx.get(url, headers={**auth, "If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.content == body
    head = httpx.head(url, headers=auth)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(body)) and head.content == b""
    download = httpx.get(url + "?download=report%20final.bin", headers=auth)
    assert download.headers["content-disposition"] == \
        "attachment; filename=report%20final.bin; filename*=UTF-8''report%20final.bin"


def test_list_folders_paging_sorting_search(service, bucket):
    files = service.storage.from_(bucket)
    for key in ("a.txt", "b.txt", "C.txt", "photos/one.png", "photos/two.png", "photos/2024/x.png", "zeta/z.txt"):
        files.upload(key, key.encode(), {"content-type": "text/plain"})
    top = files.list()
    assert [(e["name"], e["id"] is None) for e in top] == \
        [("a.txt", False), ("b.txt", False), ("C.txt", False), ("photos", True), ("zeta", True)]
    assert top[0]["metadata"]["size"] == 5 and top[0]["metadata"]["mimetype"] == "text/plain"
    assert [e["name"] for e in files.list("photos")] == ["2024", "one.png", "two.png"]
    assert [e["name"] for e in files.list("photos/")] == ["2024", "one.png", "two.png"]
    assert [e["name"] for e in files.list("", {"limit": 2, "offset": 1})] == ["b.txt", "C.txt"]
    assert [e["name"] for e in files.list("", {"sortBy": {"column": "name", "order": "desc"}})] == \
        ["zeta", "photos", "C.txt", "b.txt", "a.txt"]
    by_time = [e["name"] for e in files.list("", {"sortBy": {"column": "created_at", "order": "desc"}})]
    assert by_time[:2] == ["photos", "zeta"]  # folders first, then objects newest first
    assert by_time[2:] == ["C.txt", "b.txt", "a.txt"]
    assert [e["name"] for e in files.list("photos", {"search": "t"})] == ["two.png"]
    assert [e["name"] for e in files.list("", {"search": "PH"})] == ["photos"]
    assert files.list("nothing-here") == []


def test_move_copy_remove(service, bucket, storage_server):
    files = service.storage.from_(bucket)
    files.upload("src/a.txt", b"alpha", {"content-type": "text/plain", "metadata": {"m": 1}})
    files.upload("src/b.txt", b"beta")
    assert files.move("src/a.txt", "dst/a-moved.txt") == {"message": "Successfully moved"}
    assert files.download("dst/a-moved.txt") == b"alpha" and not files.exists("src/a.txt")
    assert files.info("dst/a-moved.txt")["metadata"] == {"m": 1}
    with pytest.raises(StorageApiError) as gone:
        files.move("src/a.txt", "elsewhere.txt")
    assert gone.value.status == "404"
    with pytest.raises(StorageApiError) as taken:
        files.move("src/b.txt", "dst/a-moved.txt")
    assert taken.value.status == "409"
    assert files.copy("src/b.txt", "copies/b.txt")["Key"] == f"{bucket}/copies/b.txt"
    assert files.download("copies/b.txt") == b"beta" and files.download("src/b.txt") == b"beta"
    other = f"t-{uuid.uuid4().hex[:10]}"
    service.storage.create_bucket(other)
    try:  # across buckets, as supabase-js's destinationBucket option sends it
        response = httpx.post(f"{storage_server.url}/storage/v1/object/copy", json={
            "bucketId": bucket, "sourceKey": "src/b.txt", "destinationBucket": other, "destinationKey": "b.txt"},
            headers={"Authorization": f"Bearer {storage_server.service_role_key}"})
        assert response.json()["Key"] == f"{other}/b.txt"
        assert service.storage.from_(other).download("b.txt") == b"beta"
        moved = httpx.post(f"{storage_server.url}/storage/v1/object/move", json={
            "bucketId": other, "sourceKey": "b.txt", "destinationBucket": bucket, "destinationKey": "back.txt"},
            headers={"Authorization": f"Bearer {storage_server.service_role_key}"})
        assert moved.status_code == 200 and files.download("back.txt") == b"beta"
    finally:
        service.storage.empty_bucket(other)
        service.storage.delete_bucket(other)
    removed = files.remove(["src/b.txt", "copies/b.txt", "not-there.txt"])
    assert sorted(r["name"] for r in removed) == ["copies/b.txt", "src/b.txt"]
    assert not files.exists("src/b.txt") and not files.exists("copies/b.txt")
    versions = {r["version"] for r in sql(storage_server, "select version from storage.objects")}
    on_disk = {p.name for p in (storage_server.data_dir / "storage" / "objects").rglob("*") if p.is_file()}
    assert on_disk == versions  # every removed version's bytes went with its row


def test_direct_delete_is_refused_as_on_supabase(storage_server, service, bucket):
    service.storage.from_(bucket).upload("keep.txt", b"k")
    from asyncpg import InsufficientPrivilegeError
    with pytest.raises(InsufficientPrivilegeError, match="Use the Storage API"):
        sql(storage_server, "delete from storage.objects where bucket_id = $1", bucket)


async def test_async_client_objects(storage_server, bucket):
    client = await async_client_for(storage_server, key=storage_server.service_role_key)
    files = client.storage.from_(bucket)
    await files.upload("x/y.txt", b"async bytes", {"content-type": "text/plain"})
    assert await files.download("x/y.txt") == b"async bytes"
    assert [e["name"] for e in await files.list("x")] == ["y.txt"]
    assert (await files.info("x/y.txt"))["size"] == 11 and await files.exists("x/y.txt")
    await files.move("x/y.txt", "x/z.txt")
    await files.copy("x/z.txt", "x/w.txt")
    assert sorted(r["name"] for r in await files.remove(["x/z.txt", "x/w.txt"])) == ["x/w.txt", "x/z.txt"]
    assert await files.list("x") == []
