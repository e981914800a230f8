"""The Storage page in the browser: create a bucket, upload (a picture, a file into a folder), preview,
browse folders, download, delete a file and the bucket - each checked through supabase-py's storage
as an app would see it; uploaded files never run on Studio's origin."""

from __future__ import annotations

import io

from PIL import Image
from playwright.async_api import expect

from supabase import ClientOptions, create_client
from tests.localbase.studio.conftest import shot, unique


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 24), (31, 157, 111)).save(out, "PNG")
    return out.getvalue()


async def test_buckets_and_files(studio, studio_server, tmp_path):
    service = create_client(studio_server.url, studio_server.service_role_key,
                            options=ClientOptions(auto_refresh_token=False, persist_session=False)).storage
    bucket = unique("pics").lower()
    await studio.goto("/storage")
    await studio.locator('#create-bucket input[name="name"]').fill(bucket)
    await studio.locator("#create-bucket").get_by_role("button").click()
    await expect(studio.locator("h1")).to_contain_text(bucket)
    assert service.get_bucket(bucket).public is False

    picture = tmp_path / "logo.png"
    picture.write_bytes(png_bytes())
    await studio.locator('#upload input[type="file"]').set_input_files(str(picture))
    await studio.locator("#upload button").click()
    row = studio.locator('#files tr[data-file="logo.png"]')
    await expect(row).to_contain_text("image/png")
    thumb = row.locator("img.thumb")
    await expect(thumb).to_be_visible()
    assert await thumb.evaluate("img => img.complete && img.naturalWidth") == 40  # previewed

    notes = tmp_path / "readme.txt"
    notes.write_text("hello from Studio")
    await studio.locator('#upload input[type="file"]').set_input_files(str(notes))
    await studio.locator('#upload input[name="name"]').fill("docs/readme.txt")
    await studio.locator("#upload button").click()
    await expect(studio.locator('#files tr[data-folder="docs"]')).to_be_visible()
    await shot(studio, "storage-bucket")
    await studio.locator('#files tr[data-folder="docs"] a').click()
    await expect(studio.locator('#files tr[data-file="docs/readme.txt"]')).to_contain_text("readme.txt")
    assert service.from_(bucket).download("docs/readme.txt") == b"hello from Studio"

    # downloads are attachments; only a raster image is ever shown inline, and nothing runs
    got = await studio.request.get(f"/storage/b/{bucket}/file?path=docs/readme.txt&inline=1")
    assert await got.body() == b"hello from Studio"
    assert got.headers["content-disposition"].startswith("attachment")
    assert got.headers["content-type"] == "application/octet-stream" and "sandbox" in got.headers[
        "content-security-policy"]
    service.from_(bucket).upload("evil.html", b"<script>alert(1)</script>", {"content-type": "text/html"})
    got = await studio.request.get(f"/storage/b/{bucket}/file?path=evil.html&inline=1")
    assert got.headers["content-disposition"].startswith("attachment")
    assert got.headers["content-type"] == "application/octet-stream"

    studio.once("dialog", lambda d: d.accept())
    await studio.locator('#files tr[data-file="docs/readme.txt"]').get_by_role("button", name="Delete").click()
    await expect(studio.locator('#files tr[data-file="docs/readme.txt"]')).to_have_count(0)
    assert [f["name"] for f in service.from_(bucket).list("docs")] == []

    await studio.goto("/storage")
    await expect(studio.locator(f'#buckets tr[data-bucket="{bucket}"]')).to_contain_text("private")
    await shot(studio, "storage")
    await studio.goto(f"/storage/b/{bucket}")
    studio.once("dialog", lambda d: d.accept())
    await studio.locator("#delete-bucket").get_by_role("button").click()
    await expect(studio.locator("h1")).to_have_text("Storage")
    await expect(studio.locator(f'#buckets tr[data-bucket="{bucket}"]')).to_have_count(0)
    assert bucket not in [b.id for b in service.list_buckets()]
