"""What a bucket name and an object key may be (Supabase Storage's rules: S3-safe characters),
plus what Localbase refuses on top: absolute keys, `.`/`..` segments, NUL, keys over S3's 1024
bytes. Object keys never become file paths (files are named by version id), so these rules keep
keys portable and unambiguous rather than guard the disk."""

from __future__ import annotations

import re

from localbase.storage import errors

MAX_KEY_BYTES = 1024  # S3's limit on an object key
MAX_BUCKET_NAME = 100
_VALID_KEY = re.compile(r"^[A-Za-z0-9_/!.*'() &$=@;:+,?-]+$")
_VALID_BUCKET = re.compile(r"^[A-Za-z0-9_!.*'() &$=@;:+,?-]+$")
_API_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(gb|mb|kb|b)$", re.IGNORECASE)
_API_UNITS = {"gb": 10 ** 9, "mb": 10 ** 6, "kb": 10 ** 3, "b": 1}
EMPTY_FOLDER = ".emptyFolderPlaceholder"


def valid_bucket_name(name: str) -> bool:
    return (0 < len(name) <= MAX_BUCKET_NAME and name.strip() == name and name not in (".", "..")
            and _VALID_BUCKET.match(name) is not None)


def bucket_name(name: str | None) -> str:
    if not isinstance(name, str) or not valid_bucket_name(name):
        raise errors.invalid_bucket_name(name if isinstance(name, str) else "")
    return name


def valid_key(key: str) -> bool:
    if not key or "\x00" in key or key.startswith("/") or len(key.encode()) > MAX_KEY_BYTES:
        return False
    if any(part in (".", "..") for part in key.split("/")):
        return False
    return _VALID_KEY.match(key) is not None


def object_key(key: str | None) -> str:
    if not isinstance(key, str) or not valid_key(key):
        raise errors.invalid_key(key if isinstance(key, str) else "")
    return key


def api_size(value: object) -> int | None:
    """A bucket's file_size_limit as the API takes it: bytes, or "20MB" / "30KB" / "3B" (decimal
    units, as Storage parses them); null or 0 for none."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise errors.invalid_file_size_limit()
    if isinstance(value, int):
        if value < 0:
            raise errors.invalid_file_size_limit()
        return value or None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value) or None
    if isinstance(value, str):
        match = _API_SIZE.match(value.strip())
        if match:
            return int(float(match.group(1)) * _API_UNITS[match.group(2).lower()]) or None
    raise errors.invalid_file_size_limit()


_MIME = re.compile(r"^([a-zA-Z0-9\-+.]+)/([a-zA-Z0-9\-+.*]+)(;\s*charset=[a-zA-Z0-9\-]+)?$")


def allowed_mime_types(value: object) -> list[str] | None:
    """A bucket's allowed_mime_types: a list of `type/subtype` (or `type/*`), empty items dropped."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.invalid_request("allowed_mime_types must be a list of strings")
    types = [v for v in value if v]
    for mime in types:
        if len(mime) > 1000 or not _MIME.match(mime):
            raise errors.invalid_mime_type(mime)
    return types or None


def mime_allowed(mime: str, allowed: list[str] | None) -> bool:
    """Storage's rule: `type/subtype` matches an allowed `type/subtype` or `type/*` (parameters
    such as charset ignored)."""
    if not allowed:
        return True
    kind, _, sub = mime.split(";", 1)[0].strip().lower().partition("/")
    if not kind or not sub:
        return False
    for entry in allowed:
        a_kind, _, a_sub = entry.split(";", 1)[0].strip().lower().partition("/")
        if a_kind == kind and a_sub in ("*", sub):
            return True
    return False
