"""Authorization is RLS on storage.objects evaluated by PostgreSQL for the caller's JWT, with the
policies of Supabase's docs (tests/localbase/storage/project): user A cannot list, download,
overwrite, move, copy or delete user B's objects; anon reads public buckets only."""

from __future__ import annotations

import httpx
import pytest
from storage3.exceptions import StorageApiError

from tests.localbase.helpers import sql
from tests.localbase.storage.conftest import async_client_for


@pytest.fixture(scope="module")
def users(signed_up):
    (a, a_client), (b, b_client) = signed_up(), signed_up()
    a_client.storage.from_("private-files").upload(f"{a.id}/secret.txt", b"A's secret", {"content-type": "text/plain"})
    return a, a_client, b, b_client


def test_owner_is_the_uploader(storage_server, users):
    a, *_ = users
    row = sql(storage_server, "select owner::text, owner_id from storage.objects where name = $1", f"{a.id}/secret.txt")
    assert (row[0]["owner"], row[0]["owner_id"]) == (a.id, a.id)


def test_owner_reads_and_lists_own_folder(users):
    a, a_client, *_ = users
    files = a_client.storage.from_("private-files")
    assert files.download(f"{a.id}/secret.txt") == b"A's secret"
    assert [e["name"] for e in files.list(a.id)] == ["secret.txt"]


def test_other_user_cannot_list_or_download(users):
    a, _, b, b_client = users
    files = b_client.storage.from_("private-files")
    assert files.list(a.id) == []
    assert files.list() == []  # B has no folder yet; A's is invisible
    with pytest.raises(StorageApiError) as hidden:
        files.download(f"{a.id}/secret.txt")
    assert hidden.value.status == "404"
    assert files.exists(f"{a.id}/secret.txt") is False
    with pytest.raises(StorageApiError):
        files.create_signed_url(f"{a.id}/secret.txt", 60)


def test_other_user_cannot_overwrite_move_copy_or_delete(storage_server, users):
    a, a_client, b, b_client = users
    files = b_client.storage.from_("private-files")
    key = f"{a.id}/secret.txt"
    for attempt in (lambda: files.upload(key, b"B was here", {"upsert": "true"}),
                    lambda: files.update(key, b"B was here"),
                    lambda: files.upload(key, b"B was here")):
        with pytest.raises(StorageApiError) as refused:
            attempt()
        assert refused.value.status in ("403", "409"), refused.value.message
    with pytest.raises(StorageApiError) as not_moved:
        files.move(key, f"{b.id}/stolen.txt")
    assert not_moved.value.status == "404"
    with pytest.raises(StorageApiError) as not_copied:
        files.copy(key, f"{b.id}/copied.txt")
    assert not_copied.value.status == "404"
    assert files.remove([key]) == []
    response = httpx.delete(f"{storage_server.url}/storage/v1/object/private-files/{key}",
                            headers={"Authorization": f"Bearer {b.token}", "apikey": storage_server.anon_key})
    assert response.status_code == 404
    assert a_client.storage.from_("private-files").download(key) == b"A's secret"  # untouched


def test_user_cannot_write_into_another_users_folder(users):
    a, a_client, b, _ = users
    with pytest.raises(StorageApiError) as refused:
        a_client.storage.from_("private-files").upload(f"{b.id}/planted.txt", b"x")
    assert (refused.value.status, refused.value.message) == ("403", "new row violates row-level security policy")
    with pytest.raises(StorageApiError):  # nor move its own object there (UPDATE's WITH CHECK)
        a_client.storage.from_("private-files").move(f"{a.id}/secret.txt", f"{b.id}/secret.txt")


def test_anon_reads_public_buckets_only(storage_server, users, anon, service):
    a, a_client, *_ = users
    a_client.storage.from_("avatars").upload(f"{a.id}.png", b"\x89PNG fake", {"content-type": "image/png"})
    public_url = anon.storage.from_("avatars").get_public_url(f"{a.id}.png")
    assert httpx.get(public_url).content == b"\x89PNG fake"  # no key, no token: a public bucket
    assert anon.storage.from_("avatars").download(f"{a.id}.png") == b"\x89PNG fake"
    private_public_url = anon.storage.from_("private-files").get_public_url(f"{a.id}/secret.txt")
    refused = httpx.get(private_public_url)
    assert refused.status_code == 404 and refused.json()["error"] == "Bucket not found"
    assert anon.storage.from_("private-files").list(a.id) == []
    with pytest.raises(StorageApiError):
        anon.storage.from_("private-files").download(f"{a.id}/secret.txt")
    with pytest.raises(StorageApiError) as no_upload:
        anon.storage.from_("avatars").upload("anon.png", b"x", {"content-type": "image/png"})
    assert no_upload.value.status == "403"
    assert service.storage.from_("private-files").download(f"{a.id}/secret.txt") == b"A's secret"  # bypasses RLS


def test_owner_policies_on_public_bucket(users):
    a, a_client, b, b_client = users
    a_client.storage.from_("avatars").upload(f"{a.id}-2.png", b"mine", {"content-type": "image/png"})
    with pytest.raises(StorageApiError) as refused:  # the update policy is the owner's only
        b_client.storage.from_("avatars").update(f"{a.id}-2.png", b"defaced", {"content-type": "image/png"})
    assert refused.value.status == "403"
    assert b_client.storage.from_("avatars").remove([f"{a.id}-2.png"]) == []
    a_client.storage.from_("avatars").update(f"{a.id}-2.png", b"mine, v2", {"content-type": "image/png"})
    assert a_client.storage.from_("avatars").download(f"{a.id}-2.png") == b"mine, v2"
    assert [r["name"] for r in a_client.storage.from_("avatars").remove([f"{a.id}-2.png"])] == [f"{a.id}-2.png"]


def test_expired_or_forged_jwt_is_refused(storage_server):
    from tests.localbase.helpers import user_token
    expired = user_token(storage_server, "00000000-0000-0000-0000-000000000001", expires_in=-10)
    forged = user_token(storage_server, "00000000-0000-0000-0000-000000000001", secret="x" * 40)
    for token in (expired, forged):
        response = httpx.get(f"{storage_server.url}/storage/v1/bucket", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 403 and response.json()["error"] == "Unauthorized"


async def test_async_client_under_rls(storage_server, users):
    a, _, b, _ = users
    a_async = await async_client_for(storage_server, a.token)
    b_async = await async_client_for(storage_server, b.token)
    assert await a_async.storage.from_("private-files").download(f"{a.id}/secret.txt") == b"A's secret"
    assert await b_async.storage.from_("private-files").list(a.id) == []
    with pytest.raises(StorageApiError):
        await b_async.storage.from_("private-files").download(f"{a.id}/secret.txt")
    await b_async.storage.from_("private-files").upload(f"{b.id}/mine.txt", b"B's", {"content-type": "text/plain"})
    assert [e["name"] for e in await b_async.storage.from_("private-files").list(b.id)] == ["mine.txt"]


def test_policy_reads_request_headers(storage_server, signed_up):
    """A policy on current_setting('request.headers') (tests/localbase/storage/project: `x-gate: open`
    opens 'header-gated') sees the headers of the Storage request itself, as PostgREST's do."""
    from supabase import ClientOptions, create_client

    user, _ = signed_up()

    def files(**headers: str):
        return create_client(storage_server.url, storage_server.anon_key, options=ClientOptions(
            auto_refresh_token=False, persist_session=False,
            headers={"Authorization": f"Bearer {user.token}", **headers})).storage.from_("header-gated")

    key = f"{user.id}/gated.txt"
    with pytest.raises(StorageApiError) as refused:
        files(**{"x-gate": "shut"}).upload(key, b"behind the gate", {"content-type": "text/plain"})
    assert refused.value.status == "403"
    files(**{"x-gate": "open"}).upload(key, b"behind the gate", {"content-type": "text/plain"})
    assert files(**{"x-gate": "open"}).download(key) == b"behind the gate"
    assert [e["name"] for e in files(**{"x-gate": "open"}).list(user.id)] == ["gated.txt"]
    for closed in (files(), files(**{"x-gate": "shut"})):  # the row is invisible without the header
        assert closed.list(user.id) == []
        with pytest.raises(StorageApiError) as hidden:
            closed.download(key)
        assert hidden.value.status == "404"
    # a header sent twice: its last value, as REST's request.headers has it (rest/request_headers.py)
    url = f"{storage_server.url}/storage/v1/object/authenticated/header-gated/{key}"
    auth = [("apikey", storage_server.anon_key), ("authorization", f"Bearer {user.token}")]
    assert httpx.get(url, headers=[*auth, ("x-gate", "shut"), ("x-gate", "open")]).content == b"behind the gate"
    assert httpx.get(url, headers=[*auth, ("x-gate", "open"), ("x-gate", "shut")]).status_code == 404
