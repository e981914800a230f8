"""Storage's error catalogue: the body `{statusCode, code, error, message}` as Supabase Storage
renders it, one named constructor per error, and PostgreSQL's errors mapped as Storage maps them.

Supabase's server answers most client errors with HTTP 400 and the real status in the body's
`statusCode`; the clients read the body. Localbase answers with the body's status on the wire too
(404 for a missing object, 413 for a body over the limit, ...), which the clients read the same."""

from __future__ import annotations

import logging

import asyncpg
import orjson
from starlette.responses import Response

log = logging.getLogger("localbase.storage")


class StorageError(Exception):
    def __init__(self, status: int, code: str, message: str, error: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.error = error or code
        self.headers = headers or {}

    def body(self) -> bytes:
        return orjson.dumps({"statusCode": str(self.status), "code": self.code, "error": self.error,
                             "message": self.message})

    def response(self) -> Response:
        return Response(self.body(), status_code=self.status, media_type="application/json", headers=self.headers)

    def __repr__(self) -> str:
        return f"StorageError({self.status}, {self.code!r}, {self.message!r})"


def no_such_bucket() -> StorageError:
    return StorageError(404, "NoSuchBucket", "Bucket not found", "Bucket not found")


def no_such_key() -> StorageError:
    return StorageError(404, "NoSuchKey", "Object not found", "not_found")


def no_such_upload() -> StorageError:
    return StorageError(404, "NoSuchUpload", "Upload not found")


def invalid_key(key: str) -> StorageError:
    return StorageError(400, "InvalidKey", f"Invalid key: {key[:200]}")


def invalid_bucket_name(name: str) -> StorageError:
    return StorageError(400, "InvalidBucketName", "Bucket name invalid", "Invalid Input")


def invalid_request(message: str) -> StorageError:
    return StorageError(400, "InvalidRequest", message or "Invalid Request")


def missing_parameter(name: str) -> StorageError:
    return StorageError(400, "MissingParameter", f"Missing Required Parameter {name}")


def invalid_parameter(name: str, message: str | None = None) -> StorageError:
    return StorageError(400, "InvalidParameter", message or f"Invalid Parameter {name}")


def no_content() -> StorageError:
    return StorageError(400, "InvalidRequest", "No content provided")


def entity_too_large(entity: str = "object", limit: str = "the maximum allowed size") -> StorageError:
    return StorageError(413, "EntityTooLarge", f"The {entity} exceeded {limit}", "Payload too large")


def invalid_mime_type(mime: str) -> StorageError:
    return StorageError(415, "InvalidMimeType", f"mime type {mime[:200]} is not supported", "invalid_mime_type")


def invalid_file_size_limit() -> StorageError:
    return StorageError(400, "InvalidRequest", "Invalid file size format, hint: use 20GB / 20MB / 30KB / 3B")


def access_denied(message: str = "Access denied") -> StorageError:
    return StorageError(403, "AccessDenied", message, "Unauthorized")


def invalid_jwt(message: str) -> StorageError:
    return StorageError(400, "InvalidJWT", message)


def invalid_signature(message: str = "Invalid signature") -> StorageError:
    return StorageError(400, "InvalidSignature", message)


def expired_token() -> StorageError:
    return StorageError(400, "ExpiredToken", "The provided token has expired.")


def key_already_exists(key: str) -> StorageError:
    return StorageError(409, "KeyAlreadyExists", "The resource already exists", "Duplicate")


def bucket_already_exists(bucket: str) -> StorageError:
    return StorageError(409, "BucketAlreadyExists", "The resource already exists", "Duplicate")


def bucket_not_empty() -> StorageError:
    return StorageError(409, "ResourceNotEmpty", "The bucket you tried to delete is not empty")


def invalid_range(size: int) -> StorageError:
    return StorageError(416, "InvalidRange", "invalid range provided", "invalid_range",
                        {"Content-Range": f"bytes */{size}"})


def resource_locked() -> StorageError:
    return StorageError(423, "ResourceLocked", "The resource is locked")


def image_error(status: int, message: str) -> StorageError:
    return StorageError(status, "InternalError" if status > 499 else "InvalidRequest", message)


def internal_error(message: str = "Internal server error") -> StorageError:
    return StorageError(500, "InternalError", message)


def unavailable() -> StorageError:
    """The database is down or restarting: retryable, as every service answers it."""
    return StorageError(503, "DatabaseError", "Database unavailable, retry shortly")


def timed_out() -> StorageError:
    return StorageError(504, "DatabaseTimeout", "Timed out acquiring a database connection")


def from_postgres(exc: asyncpg.PostgresError, key: str = "") -> StorageError:
    """A database error as Supabase Storage maps it (SQL text and internals never leave the server)."""
    state = getattr(exc, "sqlstate", "") or ""
    message = getattr(exc, "message", "") or str(exc)
    if state == "42501":
        return access_denied("new row violates row-level security policy" if "row-level security" in message
                             else message)
    if state == "23505":
        return StorageError(409, "ResourceAlreadyExists", "The resource already exists", "Duplicate")
    if state == "23503":
        if "is still referenced" in (getattr(exc, "detail", "") or ""):
            return StorageError(409, "ResourceReferenced",
                                "The resource could not be updated or removed due to a foreign key constraint")
        return StorageError(404, "InvalidRequest", "The related resource does not exist")
    if state == "57014":
        return StorageError(544, "DatabaseTimeout", "The connection to the database timed out")
    if state == "55P03":
        return resource_locked()
    if state == "22P02":
        return invalid_parameter("value", message)
    if state in ("P0001", "23514", "23502"):  # a trigger's or a check's refusal: its own message
        return StorageError(400, "InvalidRequest", message)
    log.error("storage: database error %s: %s", state, message)
    return StorageError(500, "DatabaseError", f"database error, code: {state}")
