"""GoTrue's errors live in one catalogue (auth/errors.py), referenced by name: every error code the
auth service answers is there, and each is one GoTrue documents (the client's ErrorCode list)."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from supabase_auth.errors import ErrorCode

from localbase.auth import errors

SRC = Path(errors.__file__).resolve().parents[1]  # src/localbase
CATALOGUE_FILE = Path(errors.__file__).resolve()
# In supabase/auth's internal/api/apierrors/errorcode.go, not yet in the installed client's list.
NEWER_THAN_CLIENT = {"feature_disabled", "oauth_client_not_found", "refresh_token_already_used",
                     "refresh_token_not_found", "session_expired", "request_entity_too_large"}
DOCUMENTED = set(typing.get_args(ErrorCode)) | NEWER_THAN_CLIENT


@pytest.mark.parametrize("name", sorted(errors.CATALOGUE))
def test_each_code_is_documented(name):
    code = errors.CATALOGUE[name]
    assert code.error_code in DOCUMENTED
    assert 400 <= code.status < 600


def test_no_module_names_a_gotrue_code_itself():
    found = [f"{path.relative_to(SRC)}:{n}: {word}"
             for path in SRC.rglob("*.py") if path != CATALOGUE_FILE
             for n, line in enumerate(path.read_text().splitlines(), 1)
             for word in re.findall(r"[\"']([a-z]+(?:_[a-z]+)+)[\"'](?!:)", line) if word in DOCUMENTED]
    assert found == []


def test_no_module_builds_an_auth_error_by_hand():
    found = [f"{path.relative_to(SRC)}:{n}" for path in SRC.rglob("*.py") if path != CATALOGUE_FILE
             for n, line in enumerate(path.read_text().splitlines(), 1) if "AuthError(" in line]
    assert found == []


@pytest.mark.parametrize("name", sorted(errors.CATALOGUE))
def test_each_entry_is_used(name):
    assert any(re.search(rf"\b{name}\b", path.read_text()) for path in SRC.rglob("*.py") if path != CATALOGUE_FILE)


def test_an_entry_without_a_default_message_needs_one():
    assert errors.VALIDATION_FAILED("limit must be an integer").msg == "limit must be an integer"
    with pytest.raises(TypeError):
        errors.VALIDATION_FAILED()


def test_retry_after_becomes_the_header():
    err = errors.OVER_REQUEST_RATE_LIMIT(retry_after=7)
    assert (err.status, err.error_code, err.headers) == (429, "over_request_rate_limit", {"retry-after": "7"})
