"""Unit tests: the [storage] section as the Supabase CLI writes it, plus Localbase's keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from localbase.settings import Settings, SettingsError
from localbase.storage.config import config_size, load_storage_config


def _settings(tmp_path: Path, storage: dict) -> Settings:
    return Settings(project_dir=tmp_path, data_dir=tmp_path / "data", config={"storage": storage})


def test_sizes_as_the_cli_reads_them():
    assert config_size("50MiB", "x") == 50 * 1024 ** 2 and config_size("5GB", "x") == 5 * 1024 ** 3
    assert config_size("512KiB", "x") == 512 * 1024 and config_size(1000, "x") == 1000
    for bad in ("lots", "-1MB", 0, True):
        with pytest.raises(SettingsError):
            config_size(bad, "x")


def test_defaults_and_buckets(tmp_path):
    config = load_storage_config(_settings(tmp_path, {
        "file_size_limit": "10MiB",
        "buckets": {"images": {"public": True, "file_size_limit": "1MiB", "allowed_mime_types": ["image/png"]}}}))
    assert (config.backend, config.file_size_limit, config.root) == ("local", 10 * 1024 ** 2,
                                                                     (tmp_path / "data" / "storage").resolve())
    assert config.enabled and not load_storage_config(_settings(tmp_path, {"enabled": False})).enabled
    (spec,) = config.buckets
    assert (spec.name, spec.public, spec.file_size_limit, spec.allowed_mime_types) == \
        ("images", True, 1024 ** 2, ("image/png",))


def test_refusals(tmp_path, monkeypatch):
    for storage in ({"backend": "ftp"}, {"backend": "s3"}, {"buckets": {"a/b": {}}},
                    {"file_size_limit": "1MiB", "buckets": {"big": {"file_size_limit": "2MiB"}}},
                    {"buckets": {"x": {"allowed_mime_types": "image/png"}}}):
        with pytest.raises(SettingsError):
            load_storage_config(_settings(tmp_path, storage))


def test_s3_from_env_and_env_references(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_S3_SECRET", "s3cr3t")
    monkeypatch.setenv("LOCALBASE_STORAGE_S3_ENDPOINT", "http://127.0.0.1:9000")
    config = load_storage_config(_settings(tmp_path, {"backend": "s3", "s3": {
        "bucket": "objects", "access_key_id": "key", "secret_access_key": "env(MY_S3_SECRET)", "prefix": "/p/"}}))
    assert config.s3 is not None
    assert (config.s3.bucket, config.s3.endpoint, config.s3.secret_access_key, config.s3.prefix) == \
        ("objects", "http://127.0.0.1:9000", "s3cr3t", "p")
