"""Respond stage: an object's bytes streamed with Storage's headers, one Range, conditional GETs
(If-None-Match / If-Modified-Since -> 304), Content-Disposition for `download`; JSON answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from email.utils import parsedate_to_datetime
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from localbase.storage import errors
from localbase.storage.objects import StoredObject, http_date

SMALL_BODY = 64 * 1024


def json(body: str | bytes | dict | list, status: int = 200) -> Response:
    if isinstance(body, (dict, list)):
        import orjson
        body = orjson.dumps(body)
    return Response(body, status_code=status, media_type="application/json")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of a single `bytes=` range, None for the whole object (absent, or a form this
    server does not serve as a range: several ranges); 416 when it cannot be satisfied."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, sep, last = spec.strip().partition("-")
    if not sep:
        return None
    try:
        if first == "":  # the last N bytes
            count = int(last)
            if count <= 0:
                raise errors.invalid_range(size)
            return max(size - count, 0), size
        start = int(first)
        end = int(last) + 1 if last else size
    except ValueError:
        return None
    if start >= size or end <= start:
        raise errors.invalid_range(size)
    return start, min(end, size)


def _not_modified(request: Request, obj: StoredObject) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in match.split(",")}
        return "*" in tags or obj.etag in tags
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return int(obj.updated_at.timestamp()) <= int(parsedate_to_datetime(since).timestamp())
        except (TypeError, ValueError):
            return False
    return False


def disposition(download: str | None) -> dict[str, str]:
    if download is None:
        return {}
    if download == "":
        return {"Content-Disposition": "attachment;"}
    name = quote(download, safe="")
    return {"Content-Disposition": f"attachment; filename={name}; filename*=UTF-8''{name}"}


def object_headers(obj: StoredObject, *, etag: str | None = None, mimetype: str | None = None) -> dict[str, str]:
    return {"ETag": etag or obj.etag, "Last-Modified": http_date(obj.updated_at), "Cache-Control": obj.cache_control,
            "Content-Type": mimetype or obj.mimetype, "Accept-Ranges": "bytes", "X-Robots-Tag": "none"}


def stream(request: Request, obj: StoredObject, read: Callable[[int, int], AsyncIterator[bytes]], *,
           download: str | None = None, size: int | None = None, etag: str | None = None,
           mimetype: str | None = None) -> Response:
    """The object (or `size` bytes of a rendition) as a streamed response; HEAD sends the headers."""
    total = obj.size if size is None else size
    headers = object_headers(obj, etag=etag, mimetype=mimetype) | disposition(download)
    tagged = StoredObject(obj.id, obj.bucket_id, obj.name, obj.version, {**obj.metadata, "eTag": headers["ETag"]},
                          obj.user_metadata, obj.created_at, obj.updated_at)
    if _not_modified(request, tagged):
        return Response(status_code=304, headers={k: v for k, v in headers.items() if k != "Content-Type"})
    span = parse_range(request.headers.get("range"), total)
    status = 200
    start, end = 0, total
    if span is not None:
        start, end = span
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{total}"
    headers["Content-Length"] = str(end - start)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    return StreamingResponse(read(start, end), status_code=status, headers=headers)


async def small_or_streamed(response: Response) -> Response:
    """A small body is sent in one piece (StreamingResponse's per-response task group costs more
    than the bytes); a large one streams."""
    if not isinstance(response, StreamingResponse) or int(response.headers.get("content-length", 0)) > SMALL_BODY:
        return response
    body = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[misc]
    return Response(body, status_code=response.status_code, headers=dict(response.headers))
