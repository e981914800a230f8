"""Storage: buckets (create, delete) and a file browser (folders, upload, download, image preview,
delete) - every action a call of the Storage API in-process as the service role, as
supabase.storage.* makes it. When Storage is off ([storage] enabled = false) the page says so.

Files are served on Studio's origin, so nothing uploaded may run there: a download is always an
attachment, except the preview of a raster image (PNG, JPEG, GIF, WebP, AVIF), and every file answer
carries a sandboxing Content-Security-Policy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from localbase.studio.errors import StudioError
from localbase.studio.pages.common import form, services, text
from localbase.studio.render import navigate, page

PREVIEWABLE = frozenset(("image/png", "image/jpeg", "image/gif", "image/webp", "image/avif"))
FILE_CSP = "default-src 'none'; img-src 'self'; sandbox"
PER_PAGE = 100
CHUNK = 256 * 1024


def _enabled(request: Request) -> None:
    if not services(request).storage_enabled:
        raise StudioError(404, "Storage is not enabled in this Localbase ([storage] enabled = false)")


async def index(request: Request) -> HTMLResponse:
    svc = services(request)
    if not svc.storage_enabled:
        return page(request, "storage.html", title="Storage", active="storage", enabled=False)
    buckets = await svc.storage("GET", "/bucket")
    return page(request, "storage.html", title="Storage", active="storage", enabled=True, buckets=buckets)


async def create_bucket(request: Request) -> HTMLResponse:
    _enabled(request)
    data = await form(request)
    name = text(data, "name").strip()
    body: dict = {"id": name, "name": name, "public": bool(data.get("public"))}
    if text(data, "file_size_limit").strip():
        body["file_size_limit"] = text(data, "file_size_limit").strip()
    if text(data, "allowed_mime_types").strip():
        body["allowed_mime_types"] = [t.strip() for t in text(data, "allowed_mime_types").split(",") if t.strip()]
    await services(request).storage("POST", "/bucket", json=body)
    return navigate(f"/storage/b/{quote(name)}")


async def delete_bucket(request: Request) -> HTMLResponse:
    _enabled(request)
    bucket = quote(request.path_params["bucket"], safe="")
    svc = services(request)
    await svc.storage("POST", f"/bucket/{bucket}/empty")
    await svc.storage("DELETE", f"/bucket/{bucket}")
    return navigate("/storage")


def _prefix(raw: str | None) -> str:
    prefix = (raw or "").strip("/")
    return prefix + "/" if prefix else ""


async def browse(request: Request) -> HTMLResponse:
    _enabled(request)
    svc = services(request)
    bucket = request.path_params["bucket"]
    info = await svc.storage("GET", f"/bucket/{quote(bucket, safe='')}")
    prefix = _prefix(request.query_params.get("prefix"))
    number = int(request.query_params.get("page") or 1) if (request.query_params.get("page") or "1").isdigit() else 1
    entries = await svc.storage("POST", f"/object/list/{quote(bucket, safe='')}", json={
        "prefix": prefix, "limit": PER_PAGE + 1, "offset": (max(number, 1) - 1) * PER_PAGE,
        "sortBy": {"column": "name", "order": "asc"}, "search": request.query_params.get("search", "")})
    more = len(entries) > PER_PAGE
    entries = entries[:PER_PAGE]
    folders = [e for e in entries if e.get("id") is None]
    files = [e for e in entries if e.get("id") is not None]
    crumbs, walked = [], ""
    for part in prefix.strip("/").split("/") if prefix else []:
        walked += part + "/"
        crumbs.append((part, walked))
    return page(request, "storage_bucket.html", title=f"Storage · {bucket}", active="storage", bucket=info,
                prefix=prefix, folders=folders, files=files, crumbs=crumbs, page_number=number, more=more,
                previewable=PREVIEWABLE, search=request.query_params.get("search", ""))


async def upload(request: Request) -> HTMLResponse:
    _enabled(request)
    bucket = request.path_params["bucket"]
    data = await request.form(max_part_size=1024 * 1024)
    prefix = _prefix(text(data, "prefix"))
    chosen = data.get("file")
    if not isinstance(chosen, UploadFile) or not chosen.filename:
        raise StudioError(400, "choose a file to upload")
    name = (text(data, "name").strip() or chosen.filename).strip("/")

    async def chunks() -> AsyncIterator[bytes]:
        while block := await chosen.read(CHUNK):
            yield block

    await services(request).upload(bucket, prefix + name, chunks(), chosen.content_type or "")
    return navigate(f"/storage/b/{quote(bucket)}?prefix={quote(prefix)}")


async def download(request: Request) -> Response:
    _enabled(request)
    key = request.query_params.get("path", "")
    if not key:
        raise StudioError(400, "which file?")
    found = await services(request).download(request.path_params["bucket"], key)
    media = found.headers.get("content-type", "application/octet-stream").split(";")[0].strip().lower()
    inline = request.query_params.get("inline") == "1" and media in PREVIEWABLE
    filename = quote(key.rsplit("/", 1)[-1])
    return Response(found.content, media_type=media if inline else "application/octet-stream", headers={
        "content-disposition": f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{filename}",
        "content-security-policy": FILE_CSP, "x-content-type-options": "nosniff"})


async def delete_file(request: Request) -> HTMLResponse:
    _enabled(request)
    key = text(await form(request), "path")
    if not key:
        raise StudioError(400, "which file?")
    await services(request).storage("DELETE", f"/object/{quote(request.path_params['bucket'], safe='')}",
                                    json={"prefixes": [key]})
    return HTMLResponse("")


def routes() -> list[Route]:
    return [Route("/storage", index), Route("/storage/buckets", create_bucket, methods=["POST"]),
            Route("/storage/b/{bucket}", browse), Route("/storage/b/{bucket}/file", download),
            Route("/storage/b/{bucket}/upload", upload, methods=["POST"]),
            Route("/storage/b/{bucket}/delete", delete_bucket, methods=["POST"]),
            Route("/storage/b/{bucket}/delete-file", delete_file, methods=["POST"])]
