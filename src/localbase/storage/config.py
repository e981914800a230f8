"""Typed storage settings: the Supabase CLI's [storage] section of supabase/config.toml
(file_size_limit, [storage.image_transformation], [storage.buckets.<name>]) and Localbase's own
keys (backend, path, [storage.s3]), best kept in supabase/localbase.toml since the CLI refuses
keys it does not know. Every key may be overridden by LOCALBASE_STORAGE_<KEY> (and
LOCALBASE_STORAGE_S3_<KEY>); a value written "env(NAME)" is read from the environment, as the CLI
reads it."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localbase.config_values import parse_bool
from localbase.settings import Settings, SettingsError

BACKENDS = ("local", "s3")
DEFAULT_FILE_SIZE_LIMIT = 50 * 1024 * 1024  # the Supabase CLI's default, "50MiB"
SIGNED_UPLOAD_EXPIRY_S = 2 * 3600  # signed upload URLs are valid for two hours, as on Supabase
TUS_EXPIRY_S = 24 * 3600  # an unfinished resumable upload is kept this long

_CONFIG_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)\s*$", re.IGNORECASE)
_CONFIG_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}


@dataclass(frozen=True)
class BucketSpec:
    """A bucket declared in config.toml ([storage.buckets.<name>]), created or updated at start."""

    name: str
    public: bool = False
    file_size_limit: int | None = None
    allowed_mime_types: tuple[str, ...] | None = None


@dataclass(frozen=True)
class S3Config:
    bucket: str
    endpoint: str | None = None  # None: AWS itself
    region: str = "us-east-1"
    access_key_id: str | None = None  # None: the default credential chain (environment, profile)
    secret_access_key: str | None = None
    prefix: str = ""  # keys are written under this prefix of the bucket
    force_path_style: bool = True


def config_size(value: Any, name: str) -> int:
    """A size as config.toml writes it ("50MiB", "5GB", 1048576), in bytes. As the Supabase CLI reads
    it, KB and KiB both mean 1024 bytes."""
    if isinstance(value, bool):
        raise SettingsError(f"{name} must be a size such as \"50MiB\", got {value!r}")
    if isinstance(value, int):
        size = value
    else:
        match = _CONFIG_SIZE.match(str(value))
        if not match:
            raise SettingsError(f"{name} must be a size such as \"50MiB\", got {value!r}")
        size = int(float(match.group(1)) * _CONFIG_UNITS[match.group(2)[:1].lower()])
    if size <= 0:
        raise SettingsError(f"{name} must be positive, got {value!r}")
    return size


def _below(folder: str) -> Any:
    """A read-only attribute: `folder` under the storage root."""
    return property(lambda self: self.root / folder)


@dataclass(frozen=True)
class StorageConfig:
    root: Path  # local files, temporary uploads, resumable uploads, transformed images
    enabled: bool = True  # [storage] enabled = false: /storage/v1 answers 404
    backend: str = "local"
    file_size_limit: int = DEFAULT_FILE_SIZE_LIMIT
    image_transformation: bool = True
    s3: S3Config | None = None
    buckets: tuple[BucketSpec, ...] = field(default_factory=tuple)

    objects_dir = _below("objects")  # stored versions (local backend)
    tmp_dir = _below("tmp")  # uploads being received
    tus_dir = _below("resumable")  # resumable uploads under way
    cache_dir = _below("cache")  # image renditions


def _resolve(value: Any) -> Any:
    if isinstance(value, str):
        match = re.fullmatch(r"env\((\w+)\)", value.strip())
        if match:
            return os.environ.get(match.group(1), "")
    return value


def _get(section: dict[str, Any], key: str, env: str, default: Any = None) -> Any:
    raw = os.environ.get(env)
    if raw not in (None, ""):
        return raw
    return _resolve(section.get(key, default))


def _buckets(section: dict[str, Any], global_limit: int) -> tuple[BucketSpec, ...]:
    from localbase.storage.names import valid_bucket_name
    specs = []
    for name, spec in (section.get("buckets") or {}).items():
        where = f"[storage.buckets.{name}]"
        if not isinstance(spec, dict):
            raise SettingsError(f"{where} must be a table")
        if not valid_bucket_name(name):
            raise SettingsError(f"{where}: {name!r} is not a valid bucket name")
        limit = spec.get("file_size_limit")
        size = config_size(limit, f"{where} file_size_limit") if limit not in (None, "") else None
        if size is not None and size > global_limit:
            raise SettingsError(f"{where} file_size_limit exceeds [storage] file_size_limit")
        mimes = spec.get("allowed_mime_types")
        if mimes is not None and (not isinstance(mimes, list) or not all(isinstance(m, str) for m in mimes)):
            raise SettingsError(f"{where} allowed_mime_types must be a list of strings")
        specs.append(BucketSpec(name, parse_bool(spec.get("public", False), f"{where} public"), size,
                                tuple(mimes) if mimes else None))
    return tuple(specs)


def load_storage_config(settings: Settings) -> StorageConfig:
    section = settings.section("storage")
    backend = str(_get(section, "backend", "LOCALBASE_STORAGE_BACKEND", "local")).lower()
    if backend not in BACKENDS:
        raise SettingsError(f"[storage] backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    path = _get(section, "path", "LOCALBASE_STORAGE_PATH")
    root = Path(path) if path else settings.data_dir / "storage"
    if not root.is_absolute():
        root = settings.project_dir / root
    limit = config_size(_get(section, "file_size_limit", "LOCALBASE_STORAGE_FILE_SIZE_LIMIT",
                             DEFAULT_FILE_SIZE_LIMIT), "[storage] file_size_limit")
    transform = section.get("image_transformation") or {}
    s3 = None
    if backend == "s3":
        s3_section = section.get("s3") or {}

        def s3_get(key: str, default: Any = None) -> Any:
            return _get(s3_section, key, f"LOCALBASE_STORAGE_S3_{key.upper()}", default)

        bucket = s3_get("bucket")
        if not bucket:
            raise SettingsError("[storage] backend = \"s3\" needs [storage.s3] bucket")
        s3 = S3Config(bucket=str(bucket), endpoint=s3_get("endpoint") or None,
                      region=str(s3_get("region", "us-east-1")),
                      access_key_id=s3_get("access_key_id") or None,
                      secret_access_key=s3_get("secret_access_key") or None,
                      prefix=str(s3_get("prefix", "")).strip("/"),
                      force_path_style=parse_bool(s3_get("force_path_style", True), "[storage.s3] force_path_style"))
    return StorageConfig(
        root=root.resolve(), enabled=parse_bool(_get(section, "enabled", "LOCALBASE_STORAGE_ENABLED", True),
                                           "[storage] enabled"),
        backend=backend, file_size_limit=limit,
        image_transformation=parse_bool(_get(transform, "enabled", "LOCALBASE_STORAGE_IMAGE_TRANSFORMATION", True),
                                   "[storage.image_transformation] enabled"),
        s3=s3, buckets=_buckets(section, limit))
