"""Image transformations on download (supabase-py's `transform` option, public render URLs and
signed render URLs), made with Pillow and cached per object version."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image
from storage3.exceptions import StorageApiError


def _png(width: int = 400, height: int = 200) -> bytes:
    image = Image.new("RGB", (width, height), (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, width // 2, height))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def picture(service, bucket):
    files = service.storage.from_(bucket)
    files.upload("pic.png", _png(), {"content-type": "image/png"})
    return files


def _image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_resize_modes(picture):
    cover = _image(picture.download("pic.png", {"transform": {"width": 100, "height": 100}}))
    assert (cover.size, cover.format) == ((100, 100), "PNG")  # cropped to fill, the source's format
    contain = _image(picture.download("pic.png", {"transform": {"width": 100, "height": 100, "resize": "contain"}}))
    assert contain.size == (100, 50)
    fill = _image(picture.download("pic.png", {"transform": {"width": 100, "height": 100, "resize": "fill"}}))
    assert fill.size == (100, 100)
    assert fill.getpixel((10, 50))[2] > 150 and fill.getpixel((90, 50))[0] > 150  # stretched, both halves kept
    assert cover.getpixel((10, 50))[2] > 150 and cover.getpixel((90, 50))[0] > 150
    width_only = _image(picture.download("pic.png", {"transform": {"width": 200}}))
    assert width_only.size == (200, 100)  # the aspect ratio kept


def test_format_and_quality(picture):
    avif = picture.download("pic.png", {"transform": {"width": 50, "format": "avif"}})
    assert _image(avif).format == "AVIF"
    low = picture.download("pic.png", {"transform": {"width": 300, "format": "avif", "quality": 20}})
    high = picture.download("pic.png", {"transform": {"width": 300, "format": "avif", "quality": 100}})
    assert len(low) < len(high)
    origin = picture.download("pic.png", {"transform": {"width": 50, "format": "origin"}})
    assert _image(origin).format == "PNG"


def test_webp_when_the_client_accepts_it(storage_server, bucket, picture):
    url = f"{storage_server.url}/storage/v1/render/image/authenticated/{bucket}/pic.png?width=40"
    response = httpx.get(url, headers={"Authorization": f"Bearer {storage_server.service_role_key}",
                                       "Accept": "image/webp,*/*"})
    assert response.headers["content-type"] == "image/webp" and _image(response.content).size == (40, 20)


def test_renditions_are_cached_per_version(storage_server, picture):
    options = {"transform": {"width": 64, "height": 64}}
    first = picture.download("pic.png", options)
    cache = storage_server.data_dir / "storage" / "cache"
    renditions = [p for p in cache.rglob("*") if p.is_file()]
    assert len(renditions) >= 1
    stamps = {p: p.stat().st_mtime_ns for p in renditions}
    assert picture.download("pic.png", options) == first
    assert {p: p.stat().st_mtime_ns for p in renditions} == stamps  # served from the cache, not made again
    picture.update("pic.png", _png(60, 600), {"content-type": "image/png"})  # a new version: a new rendition
    changed = _image(picture.download("pic.png", {"transform": {"width": 30}}))
    assert changed.size == (30, 300)
    assert not any(p.exists() for p in stamps)  # the old version's renditions went with it


def test_public_and_signed_render_urls(storage_server, service, bucket, picture):
    service.storage.update_bucket(bucket, {"public": True})
    public = picture.get_public_url("pic.png", {"transform": {"width": 80, "height": 40}})
    assert "/render/image/public/" in public
    assert _image(httpx.get(public).content).size == (80, 40)
    signed = picture.create_signed_url("pic.png", 60, {"transform": {"width": 20, "height": 20}})["signedURL"]
    assert "/render/image/sign/" in signed
    assert _image(httpx.get(signed).content).size == (20, 20)


def test_bad_transformations(picture, service, bucket):
    for options in ({"width": 0}, {"width": 9000}, {"resize": "squash"}, {"quality": 5}, {"format": "bmp"}):
        with pytest.raises(StorageApiError) as refused:
            picture.download("pic.png", {"transform": options})
        assert refused.value.status == "400", options
    service.storage.from_(bucket).upload("not-an-image.png", b"plain text", {"content-type": "image/png"})
    with pytest.raises(StorageApiError) as not_image:
        service.storage.from_(bucket).download("not-an-image.png", {"transform": {"width": 10}})
    assert not_image.value.status == "422"
