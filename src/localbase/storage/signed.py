"""Signing URLs for the caller: a download URL needs the object visible to the caller (SELECT),
an upload URL the right to write it (INSERT, or upsert's policies); the URL then carries that
authority on its own until it expires."""

from __future__ import annotations

from typing import Any

from localbase.storage import errors, names, objects, signing, transform, writes
from localbase.storage.config import SIGNED_UPLOAD_EXPIRY_S
from localbase.storage.service import StorageService
from localbase.storage.session import Session

NOT_FOUND = "Either the object does not exist or you do not have access to it"


async def download_url(svc: StorageService, session: Session, bucket_id: str, name: str,
                       body: dict[str, Any]) -> dict[str, str]:
    seconds = signing.expires_in(body.get("expiresIn"))
    await objects.find(svc, session, bucket_id, name)
    url = f"{bucket_id}/{name}"
    options = body.get("transform")
    if isinstance(options, dict) and options:
        described = transform.parse(options).describe()
        token = signing.sign(svc.jwt_secret, url, signing.DOWNLOAD, seconds, transformations=described)
        return {"signedURL": f"/render/image/sign/{url}?token={token}"}
    token = signing.sign(svc.jwt_secret, url, signing.DOWNLOAD, seconds)
    return {"signedURL": f"/object/sign/{url}?token={token}"}


async def download_urls(svc: StorageService, session: Session, bucket_id: str,
                        body: dict[str, Any]) -> list[dict[str, Any]]:
    names.bucket_name(bucket_id)
    seconds = signing.expires_in(body.get("expiresIn"))
    paths = body.get("paths")
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
        raise errors.invalid_parameter("paths", "paths must be a non-empty list of object keys")
    if len(paths) > objects.MAX_PREFIXES:
        raise errors.invalid_request(f"At most {objects.MAX_PREFIXES} paths can be signed per request.")
    found = await objects.visible(svc, session, bucket_id, paths)
    signed = []
    for path in paths:
        if path in found:
            token = signing.sign(svc.jwt_secret, f"{bucket_id}/{path}", signing.DOWNLOAD, seconds)
            signed.append({"error": None, "path": path, "signedURL": f"/object/sign/{bucket_id}/{path}?token={token}"})
        else:
            signed.append({"error": NOT_FOUND, "path": path, "signedURL": None})
    return signed


async def upload_url(svc: StorageService, session: Session, bucket_id: str, name: str, *,
                     upsert: bool) -> dict[str, str]:
    names.bucket_name(bucket_id)
    names.object_key(name)
    owner = session.owner_id
    await writes.may_write(svc, session, bucket_id, name, owner, upsert=upsert)
    url = f"{bucket_id}/{name}"
    token = signing.sign(svc.jwt_secret, url, signing.UPLOAD, SIGNED_UPLOAD_EXPIRY_S, owner=owner, upsert=upsert)
    return {"url": f"/object/upload/sign/{url}?token={token}", "token": token}
