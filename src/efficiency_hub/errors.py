"""Typed errors for the hub, translated from what Supabase's services answered. The server's own
message is kept; nothing is turned into a pretend success."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from postgrest.exceptions import APIError
from storage3.exceptions import StorageApiError
from supabase_auth.errors import AuthApiError, AuthError, AuthWeakPasswordError
from supabase_functions.errors import FunctionsHttpError, FunctionsRelayError


class HubError(Exception):
    """Base class; `status` is the HTTP status the API answers with."""

    status = 500

    def __init__(self, message: str, *, code: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.hint = hint


class InvalidInput(HubError):
    status = 400


class InvalidEvent(HubError):
    """An event the catalogue does not allow (unknown type, delta out of its range)."""

    status = 422


class AuthenticationFailed(HubError):
    status = 401


class PermissionDenied(HubError):
    status = 403


class NotFound(HubError):
    status = 404


class Conflict(HubError):
    status = 409


class TooLarge(HubError):
    status = 413


class UnsupportedType(HubError):
    status = 415


class BackendError(HubError):
    """The backend failed in a way the caller cannot fix (5xx, or an unexpected answer)."""

    status = 502


# PostgreSQL / PostgREST codes -> hub errors
_REST_CODES: dict[str, type[HubError]] = {
    "23505": Conflict,          # unique_violation
    "23503": InvalidInput,      # foreign_key_violation
    "23514": InvalidInput,      # check_violation
    "23502": InvalidInput,      # not_null_violation
    "22P02": InvalidInput,      # invalid_text_representation (bad enum value, bad uuid)
    "22003": InvalidInput,      # numeric_value_out_of_range
    "22023": InvalidInput,      # invalid_parameter_value
    "42501": PermissionDenied,  # insufficient_privilege, and RLS WITH CHECK failures
    "P0002": NotFound,          # no_data_found
    "PGRST116": NotFound,       # single object requested, none (or many) found
    "PGRST301": AuthenticationFailed,
    "PGRST303": AuthenticationFailed,  # JWT expired
}

_AUTH_CODES: dict[str, type[HubError]] = {
    "user_already_exists": Conflict,
    "email_exists": Conflict,
    "weak_password": InvalidInput,
    "validation_failed": InvalidInput,
    "email_address_invalid": InvalidInput,
    "invalid_credentials": AuthenticationFailed,
    "email_not_confirmed": AuthenticationFailed,
    "refresh_token_not_found": AuthenticationFailed,
    "refresh_token_already_used": AuthenticationFailed,
    "session_not_found": AuthenticationFailed,
    "bad_jwt": AuthenticationFailed,
    "no_authorization": AuthenticationFailed,
    "signup_disabled": PermissionDenied,
    "over_request_rate_limit": PermissionDenied,
    "over_email_send_rate_limit": PermissionDenied,
    "user_not_found": NotFound,
}


def from_rest(exc: APIError) -> HubError:
    kind = _REST_CODES.get(exc.code or "", BackendError)
    return kind(exc.message or "the database refused the request", code=exc.code, hint=exc.hint)


def from_auth(exc: AuthError) -> HubError:
    code = getattr(exc, "code", None) or ""
    if isinstance(exc, AuthWeakPasswordError):
        reasons = ", ".join(exc.reasons) if exc.reasons else ""
        return InvalidInput(f"{exc.message}{f' ({reasons})' if reasons else ''}", code="weak_password")
    kind = _AUTH_CODES.get(code)
    if kind is None:
        status = getattr(exc, "status", 500) if isinstance(exc, AuthApiError) else 500
        kind = {400: InvalidInput, 401: AuthenticationFailed, 403: AuthenticationFailed,
                404: NotFound, 409: Conflict, 422: InvalidInput}.get(status, BackendError)
    return kind(exc.message, code=code or None)


def from_function(exc: FunctionsHttpError | FunctionsRelayError) -> HubError:
    kind = {400: InvalidInput, 401: AuthenticationFailed, 403: PermissionDenied,
            404: NotFound, 409: Conflict}.get(exc.status, BackendError)
    return kind(exc.message, code=f"function_{exc.status}")


def from_storage(exc: StorageApiError) -> HubError:
    """Storage answers its status in the body (`statusCode`); supabase-py keeps it as `status`."""
    try:
        status = int(exc.status)
    except (TypeError, ValueError):
        status = 500
    kind = {400: InvalidInput, 401: AuthenticationFailed, 403: PermissionDenied, 404: NotFound, 409: Conflict,
            413: TooLarge, 415: UnsupportedType}.get(status, BackendError)
    return kind(exc.message, code=str(exc.code))


@contextmanager
def translated() -> Iterator[None]:
    """Raise the hub's typed error for any Supabase client error inside the block."""
    try:
        yield
    except APIError as exc:
        raise from_rest(exc) from exc
    except AuthError as exc:
        raise from_auth(exc) from exc
    except (FunctionsHttpError, FunctionsRelayError) as exc:
        raise from_function(exc) from exc
    except StorageApiError as exc:
        raise from_storage(exc) from exc
