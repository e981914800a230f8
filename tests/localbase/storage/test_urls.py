"""Public URLs, signed download URLs (single and many, expiring, `download`, tamper-proof) and
signed upload URLs, through supabase-py."""

from __future__ import annotations

import time

import httpx
import pytest
from storage3.exceptions import StorageApiError

from localbase.security import jwt


@pytest.fixture
def files(service, bucket):
    files = service.storage.from_(bucket)
    files.upload("docs/a.txt", b"document a", {"content-type": "text/plain"})
    files.upload("docs/b.txt", b"document b", {"content-type": "text/plain"})
    return files


def test_public_url_and_download_option(storage_server, service, bucket, files):
    url = files.get_public_url("docs/a.txt")
    assert url == f"{storage_server.url}/storage/v1/object/public/{bucket}/docs/a.txt"
    assert httpx.get(url).status_code == 404  # the bucket is private
    service.storage.update_bucket(bucket, {"public": True})
    assert httpx.get(url).content == b"document a"
    attachment = httpx.get(files.get_public_url("docs/a.txt", {"download": True}))
    assert attachment.headers["content-disposition"] == "attachment;"
    named = httpx.get(files.get_public_url("docs/a.txt", {"download": "mine.txt"}))
    assert named.headers["content-disposition"].startswith("attachment; filename=mine.txt")
    info = httpx.get(f"{storage_server.url}/storage/v1/object/info/public/{bucket}/docs/a.txt").json()
    assert info["size"] == 10


def test_signed_url_downloads_without_credentials(files):
    signed = files.create_signed_url("docs/a.txt", 60)
    response = httpx.get(signed["signedURL"])  # no apikey, no Authorization
    assert response.status_code == 200 and response.content == b"document a"
    download = files.create_signed_url("docs/a.txt", 60, {"download": "x.txt"})
    assert httpx.get(download["signedURL"]).headers["content-disposition"].startswith("attachment; filename=x.txt")


def test_signed_urls_many(files):
    signed = files.create_signed_urls(["docs/a.txt", "docs/b.txt", "docs/missing.txt"], 60)
    assert [s["path"] for s in signed] == ["docs/a.txt", "docs/b.txt", "docs/missing.txt"]
    assert httpx.get(signed[0]["signedURL"]).content == b"document a"
    assert httpx.get(signed[1]["signedURL"]).content == b"document b"
    assert signed[2]["signedURL"] is None and "does not exist" in signed[2]["error"]


def test_signed_url_expires(files):
    signed = files.create_signed_url("docs/a.txt", 1)
    time.sleep(2.1)
    expired = httpx.get(signed["signedURL"])
    assert expired.status_code == 400 and expired.json()["message"] == "jwt expired"


def test_signed_url_cannot_be_altered(storage_server, bucket, files):
    signed = files.create_signed_url("docs/a.txt", 60)["signedURL"]
    other_object = signed.replace("docs/a.txt", "docs/b.txt")
    assert httpx.get(other_object).status_code == 400  # the token names another path
    token = signed.split("token=")[1]
    header, payload, signature = token.split(".")
    forged_payload = jwt.sign({"url": f"{bucket}/docs/b.txt", "scope": "download", "exp": int(time.time()) + 60},
                              "not-the-project-secret-" * 2).split(".")[1]
    forged = signed.replace("docs/a.txt", "docs/b.txt").replace(token, f"{header}.{forged_payload}.{signature}")
    refused = httpx.get(forged)
    assert refused.status_code == 400 and refused.json()["error"] == "InvalidJWT"
    tampered = signed[:-2] + ("AA" if not signed.endswith("AA") else "BB")
    assert httpx.get(tampered).status_code == 400
    # a user's access token is not a download grant, nor is an upload grant
    upload_token = files.create_signed_upload_url("docs/new.txt")["token"]
    assert httpx.get(f"{storage_server.url}/storage/v1/object/sign/{bucket}/docs/new.txt?token={upload_token}"
                     ).status_code == 400
    assert httpx.get(f"{storage_server.url}/storage/v1/object/sign/{bucket}/docs/a.txt?token="
                     f"{storage_server.service_role_key}").status_code == 400


def test_signed_upload_url(storage_server, signed_up, files):
    user, client = signed_up()
    own = client.storage.from_("private-files")
    signed = own.create_signed_upload_url(f"{user.id}/via-signed.txt")
    assert signed["signed_url"].startswith(f"{storage_server.url}/storage/v1/object/upload/sign/private-files/")
    # anyone holding the URL may upload, once per token's path, without credentials of their own
    result = own.upload_to_signed_url(f"{user.id}/via-signed.txt", signed["token"], b"uploaded with a token",
                                      {"content-type": "text/plain"})
    assert result.full_path == f"private-files/{user.id}/via-signed.txt"
    assert own.download(f"{user.id}/via-signed.txt") == b"uploaded with a token"
    from tests.localbase.helpers import sql
    owner = sql(storage_server, "select owner_id from storage.objects where name = $1", f"{user.id}/via-signed.txt")
    assert owner[0]["owner_id"] == user.id  # the signer owns it
    with pytest.raises(StorageApiError):  # the token names one path
        own.upload_to_signed_url(f"{user.id}/other.txt", signed["token"], b"x")
    with pytest.raises(StorageApiError) as refused:  # signing needs the right to write there
        own.create_signed_upload_url("someone-else/x.txt")
    assert refused.value.status == "403"
