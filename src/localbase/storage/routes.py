"""/storage/v1: Supabase Storage's HTTP API. Each handler wires the stages: who is asking
(session) -> the bucket / object operation (rows as the caller, bytes in the backend) -> respond."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from localbase.process import workers
from localbase.storage import buckets, errors, objects, signed, signing, transform, tus, writes
from localbase.storage.respond import json
from localbase.storage.serve import serve
from localbase.storage.service import StorageService
from localbase.storage.session import Session, session_for
from localbase.storage.sync import sync_buckets

log = logging.getLogger("localbase.storage")
MAX_JSON_BYTES = 1024 * 1024

Handler = Callable[[Request, StorageService], Awaitable[Response]]


def endpoint(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Errors in Storage's shape; unexpected ones logged and answered 500 without internals."""

    @functools.wraps(fn)
    async def wrapper(request: Request) -> Response:
        svc = request.app.state.storage
        if svc is None:
            return errors.StorageError(404, "NotFound", "Storage is not enabled ([storage] enabled = false)",
                                       "Not Found").response()
        try:
            return await fn(request, svc)
        except errors.StorageError as exc:
            return exc.response()
        except ClientDisconnect:  # the client went away mid-body: nothing was stored, nobody to answer
            return Response(status_code=499)
        except Exception:  # noqa: BLE001 - logged with the traceback, answered in Storage's 500 shape
            log.exception("storage: %s %s failed", request.method, request.url.path)
            return errors.internal_error().response()

    return wrapper


async def body_json(request: Request) -> dict[str, Any]:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_JSON_BYTES:
            raise errors.entity_too_large("request body")
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise errors.invalid_request("Body is not valid JSON") from None
    if not isinstance(data, dict):
        raise errors.invalid_request("Body must be a JSON object")
    return data


def _path(request: Request) -> tuple[str, str]:
    return request.path_params["bucket"], request.path_params["key"]


async def _bucket_call(request: Request, svc: StorageService, operation) -> Response:
    """operation(svc, session, bucket, JSON body), answered as JSON."""
    return json(await operation(svc, session_for(request), request.path_params["bucket"], await body_json(request)))


def _upsert(request: Request) -> bool:
    return request.headers.get("x-upsert", "").lower() == "true"


# -- buckets --------------------------------------------------------------------------------------

@endpoint
async def list_buckets(request: Request, svc: StorageService) -> Response:
    return json(await buckets.list_all(svc.db, session_for(request), request.query_params))


@endpoint
async def create_bucket(request: Request, svc: StorageService) -> Response:
    return json(await buckets.create(svc.db, session_for(request), await body_json(request),
                                     svc.config.file_size_limit))


@endpoint
async def get_bucket(request: Request, svc: StorageService) -> Response:
    return json(await buckets.get(svc.db, session_for(request), request.path_params["bucket"]))


@endpoint
async def update_bucket(request: Request, svc: StorageService) -> Response:
    return json(await buckets.update(svc.db, session_for(request), request.path_params["bucket"],
                                     await body_json(request), svc.config.file_size_limit))


@endpoint
async def delete_bucket(request: Request, svc: StorageService) -> Response:
    return json(await buckets.delete(svc.db, session_for(request), request.path_params["bucket"]))


@endpoint
async def empty_bucket(request: Request, svc: StorageService) -> Response:
    return json(await objects.empty(svc, session_for(request), request.path_params["bucket"]))


# -- objects --------------------------------------------------------------------------------------

@endpoint
async def upload(request: Request, svc: StorageService) -> Response:
    session = session_for(request)
    bucket_id, key = _path(request)
    upsert = request.method == "PUT" or _upsert(request)
    return json(await writes.upload(svc, session, bucket_id, key, request.stream(), request.headers,
                                    upsert=upsert, owner_id=session.owner_id))


@endpoint
async def download(request: Request, svc: StorageService) -> Response:
    bucket_id, key = _path(request)
    return await serve(request, svc, await objects.find(svc, session_for(request), bucket_id, key))


@endpoint
async def download_public(request: Request, svc: StorageService) -> Response:
    bucket_id, key = _path(request)
    return await serve(request, svc, await objects.find_public(svc, session_for(request, anonymous=True),
                                                               bucket_id, key))


@endpoint
async def download_signed(request: Request, svc: StorageService) -> Response:
    bucket_id, key = _path(request)
    grant = signing.verify(svc.jwt_secret, request.query_params.get("token"), f"{bucket_id}/{key}", signing.DOWNLOAD)
    obj = await objects.find_signed(svc, session_for(request, anonymous=True), bucket_id, key)
    options = transform.from_description(grant.transformations) if grant.transformations else None
    return await serve(request, svc, obj, options)


@endpoint
async def info(request: Request, svc: StorageService) -> Response:
    bucket_id, key = _path(request)
    return json((await objects.find(svc, session_for(request), bucket_id, key)).info())


@endpoint
async def info_public(request: Request, svc: StorageService) -> Response:
    bucket_id, key = _path(request)
    obj = await objects.find_public(svc, session_for(request, anonymous=True), bucket_id, key)
    return json(obj.info())


@endpoint
async def list_objects(request: Request, svc: StorageService) -> Response:
    return await _bucket_call(request, svc, objects.list_folder)


@endpoint
async def move(request: Request, svc: StorageService) -> Response:
    return json(await objects.move(svc, session_for(request), await body_json(request)))


@endpoint
async def copy(request: Request, svc: StorageService) -> Response:
    return json(await writes.copy(svc, session_for(request), await body_json(request), upsert=_upsert(request)))


@endpoint
async def remove(request: Request, svc: StorageService) -> Response:
    prefixes = (await body_json(request)).get("prefixes")
    return json(await objects.remove(svc, session_for(request), request.path_params["bucket"], prefixes))


@endpoint
async def delete_object(request: Request, svc: StorageService) -> Response:
    bucket_id, key = _path(request)
    return json(await objects.delete_one(svc, session_for(request), bucket_id, key))


# -- signed URLs ----------------------------------------------------------------------------------

@endpoint
async def sign(request: Request, svc: StorageService) -> Response:
    bucket_id, key = _path(request)
    return json(await signed.download_url(svc, session_for(request), bucket_id, key, await body_json(request)))


@endpoint
async def sign_upload(request: Request, svc: StorageService) -> Response:
    bucket_id, key = _path(request)
    return json(await signed.upload_url(svc, session_for(request), bucket_id, key, upsert=_upsert(request)))


@endpoint
async def upload_signed(request: Request, svc: StorageService) -> Response:
    bucket_id, key = _path(request)
    grant = signing.verify(svc.jwt_secret, request.query_params.get("token"), f"{bucket_id}/{key}", signing.UPLOAD)
    session: Session = session_for(request, anonymous=True).as_service()
    return json(await writes.upload(svc, session, bucket_id, key, request.stream(), request.headers,
                                    upsert=grant.upsert, owner_id=grant.owner))


@endpoint
async def sign_many(request: Request, svc: StorageService) -> Response:
    return await _bucket_call(request, svc, signed.download_urls)


# -- image transformations ------------------------------------------------------------------------

@endpoint
async def render(request: Request, svc: StorageService) -> Response:
    bucket_id, key = _path(request)
    options = transform.parse(request.query_params)
    return await serve(request, svc, await objects.find(svc, session_for(request), bucket_id, key), options)


@endpoint
async def render_public(request: Request, svc: StorageService) -> Response:
    bucket_id, key = _path(request)
    options = transform.parse(request.query_params)
    obj = await objects.find_public(svc, session_for(request, anonymous=True), bucket_id, key)
    return await serve(request, svc, obj, options)


@endpoint
async def render_signed(request: Request, svc: StorageService) -> Response:
    bucket_id, key = _path(request)
    grant = signing.verify(svc.jwt_secret, request.query_params.get("token"), f"{bucket_id}/{key}", signing.DOWNLOAD)
    obj = await objects.find_signed(svc, session_for(request, anonymous=True), bucket_id, key)
    return await serve(request, svc, obj, transform.from_description(grant.transformations or ""))


# -- resumable uploads (TUS) ----------------------------------------------------------------------

@endpoint
async def tus_create(request: Request, svc: StorageService) -> Response:
    if request.method == "OPTIONS":
        return tus.options(svc)
    return await tus.create(request, svc, session_for(request))


@endpoint
async def tus_upload(request: Request, svc: StorageService) -> Response:
    upload_id = request.path_params["upload_id"]
    if request.method == "OPTIONS":
        return tus.options(svc)
    session = session_for(request)
    if request.method == "HEAD":
        return await tus.head(svc, session, upload_id)
    if request.method == "DELETE":
        return await tus.terminate(svc, session, upload_id)
    return await tus.patch(request, svc, session, upload_id)


KEY = "{bucket}/{key:path}"


# As Supabase's gateway: no API key asked here; Storage verifies JWTs itself, public and signed URLs
# need none.
PUBLIC_PATHS = ("/",)


def routes() -> list[BaseRoute]:
    return [
        Route("/bucket", list_buckets, methods=["GET"]),
        Route("/bucket", create_bucket, methods=["POST"]),
        Route("/bucket/{bucket}/empty", empty_bucket, methods=["POST"]),
        Route("/bucket/{bucket}", get_bucket, methods=["GET"]),
        Route("/bucket/{bucket}", update_bucket, methods=["PUT"]),
        Route("/bucket/{bucket}", delete_bucket, methods=["DELETE"]),
        Route("/object/list/{bucket}", list_objects, methods=["POST"]),
        Route("/object/move", move, methods=["POST"]),
        Route("/object/copy", copy, methods=["POST"]),
        Route("/object/sign/{bucket}", sign_many, methods=["POST"]),
        Route(f"/object/sign/{KEY}", sign, methods=["POST"]),
        Route(f"/object/sign/{KEY}", download_signed, methods=["GET"]),
        Route(f"/object/upload/sign/{KEY}", sign_upload, methods=["POST"]),
        Route(f"/object/upload/sign/{KEY}", upload_signed, methods=["PUT"]),
        Route(f"/object/info/public/{KEY}", info_public, methods=["GET"]),
        Route(f"/object/info/authenticated/{KEY}", info, methods=["GET"]),
        Route(f"/object/info/{KEY}", info, methods=["GET"]),
        Route(f"/object/public/{KEY}", download_public, methods=["GET"]),
        Route(f"/object/authenticated/{KEY}", download, methods=["GET"]),
        Route("/object/{bucket}", remove, methods=["DELETE"]),
        Route(f"/object/{KEY}", download, methods=["GET"]),
        Route(f"/object/{KEY}", upload, methods=["POST", "PUT"]),
        Route(f"/object/{KEY}", delete_object, methods=["DELETE"]),
        Route(f"/render/image/authenticated/{KEY}", render, methods=["GET"]),
        Route(f"/render/image/public/{KEY}", render_public, methods=["GET"]),
        Route(f"/render/image/sign/{KEY}", render_signed, methods=["GET"]),
        Route("/upload/resumable", tus_create, methods=["POST", "OPTIONS"]),
        Route("/upload/resumable/{upload_id}", tus_upload, methods=["HEAD", "PATCH", "DELETE", "OPTIONS"]),
    ]


async def startup(app) -> None:
    settings = app.state.settings
    config = app.state.services.storage
    app.state.storage = None
    if not config.enabled:
        return
    svc = StorageService(config, app.state.db, settings.jwt_secret)
    first = workers.current().first  # once per deployment: the sweep of what a crash left, config buckets
    await svc.start(sweep=first)
    if first:
        await sync_buckets(app.state.db, svc.config.buckets)
    app.state.storage = svc


async def shutdown(app) -> None:
    svc = getattr(app.state, "storage", None)
    if svc is not None:
        await svc.close()
