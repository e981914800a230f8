"""Serving an object found by one of the download routes: its bytes as they are, or an image
rendition (transformed once, then from the cache)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response

from localbase.storage import errors, respond, transform
from localbase.storage.objects import StoredObject
from localbase.storage.service import StorageService


def download_name(request: Request) -> str | None:
    """`?download` (attachment, the object's name) or `?download=name.ext`."""
    return request.query_params.get("download")


async def serve(request: Request, svc: StorageService, obj: StoredObject,
                options: transform.Transform | None = None) -> Response:
    download = download_name(request)
    if options is None:
        def read(start: int, end: int) -> AsyncIterator[bytes]:
            return svc.backend.read(obj.version, start, end)
        return await respond.small_or_streamed(respond.stream(request, obj, read, download=download))
    if not svc.config.image_transformation:
        raise errors.invalid_request("Image transformation is not enabled")
    accept_webp = "image/webp" in request.headers.get("accept", "")
    key = options.key(accept_webp)
    path = transform.cache_path(svc.config.cache_dir, obj.version, key)
    cached = await asyncio.to_thread(transform.read_cached, path)
    if cached is None:
        if obj.size > transform.MAX_SOURCE_BYTES:
            raise errors.image_error(413, "The source image is too large to transform")
        source = b"".join([chunk async for chunk in svc.backend.read(obj.version, 0, obj.size)])
        cached = await asyncio.to_thread(transform.render, source, options, accept_webp)
        await asyncio.to_thread(transform.write_cached, path, *cached)
    data, mimetype = cached

    async def rendition(start: int, end: int) -> AsyncIterator[bytes]:
        yield data[start:end]

    return respond.stream(request, obj, rendition, download=download, size=len(data), mimetype=mimetype,
                          etag=f'"{obj.version}-{path.name.rsplit("-", 1)[-1]}"')
