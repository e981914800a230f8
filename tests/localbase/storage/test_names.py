"""Unit tests: which bucket names and object keys are refused, sizes and MIME rules."""

from __future__ import annotations

import pytest

from localbase.storage import errors, names


@pytest.mark.parametrize("key", ["a.txt", "folder/sub/file name (1).png", "a//b", "x" * 1024, "!*'()&$=@;:+,?-_.txt"])
def test_valid_keys(key):
    assert names.object_key(key) == key


@pytest.mark.parametrize("key", ["", "../a", "a/../b", "a/./b", "..", ".", "/abs", "a\x00b", "x" * 1025,
                                 "é.txt", "a\\b", "tab\there"])
def test_refused_keys(key):
    with pytest.raises(errors.StorageError) as refused:
        names.object_key(key)
    assert (refused.value.status, refused.value.code) == (400, "InvalidKey")


@pytest.mark.parametrize("name,ok", [("avatars", True), ("My Bucket", True), ("a.b-c_d", True), ("", False),
                                     ("a/b", False), (" lead", False), ("..", False), ("x" * 101, False)])
def test_bucket_names(name, ok):
    assert names.valid_bucket_name(name) is ok


def test_api_sizes():
    assert names.api_size(1000) == 1000 and names.api_size("20MB") == 20_000_000 and names.api_size("1.5kb") == 1500
    assert names.api_size(None) is None and names.api_size(0) is None
    for bad in ("20 parsecs", -1, True, "MB"):
        with pytest.raises(errors.StorageError):
            names.api_size(bad)


def test_mime_rules():
    assert names.mime_allowed("image/png", ["image/*"])
    assert names.mime_allowed("text/plain;charset=UTF-8", ["text/plain"])
    assert not names.mime_allowed("application/pdf", ["image/*", "text/plain"])
    assert not names.mime_allowed("nonsense", ["image/*"]) and names.mime_allowed("anything", None)
    assert names.allowed_mime_types(["image/png", "", "text/*"]) == ["image/png", "text/*"]
    with pytest.raises(errors.StorageError):
        names.allowed_mime_types(["not a mime"])
