"""GoTrue's error shape: `{"code": <status>, "error_code": "<code>", "msg": "..."}`.

Clients that send `X-Supabase-Api-Version: 2024-01-01` (supabase-py, supabase-js) get that
version's shape, where `code` is the error code string; `error_code` and `msg` are kept in both,
so either way the client maps the error code to the right exception class."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

API_VERSION_HEADER = "x-supabase-api-version"
API_VERSION = "2024-01-01"


class AuthError(Exception):
    def __init__(self, status: int, error_code: str, msg: str, extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(msg)
        self.status = status
        self.error_code = error_code
        self.msg = msg
        self.extra = extra or {}
        self.headers = headers or {}


@dataclass(frozen=True, slots=True)
class Code:
    """One GoTrue error: its error code, HTTP status and default message; call it to get the error,
    e.g. `raise errors.USER_NOT_FOUND()` or `errors.VALIDATION_FAILED("limit must be an integer")`.
    A code GoTrue answers with two statuses has one entry per status, named for the second."""

    error_code: str
    status: int
    msg: str | None = None

    def __call__(self, msg: str | None = None, *, extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None, status: int | None = None,
                 retry_after: int | None = None) -> AuthError:
        text = msg if msg is not None else self.msg
        if text is None:
            raise TypeError(f"{self.error_code}: this error has no default message; pass one")
        if retry_after:
            headers = {**(headers or {}), "retry-after": str(retry_after)}
        return AuthError(status or self.status, self.error_code, text, extra, headers)


ANONYMOUS_PROVIDER_DISABLED = Code("anonymous_provider_disabled", 422, "Anonymous sign-ins are disabled")
BAD_CODE_VERIFIER = Code("bad_code_verifier", 403, "code challenge does not match previously saved code verifier")
BAD_JSON = Code("bad_json", 400, "Request body must be a JSON object")
BAD_JWT = Code("bad_jwt", 403, "invalid claim: missing session_id claim")
EMAIL_EXISTS = Code("email_exists", 422, "A user with this email address has already been registered")
EMAIL_NOT_CONFIRMED = Code("email_not_confirmed", 400, "Email not confirmed")
EMAIL_PROVIDER_DISABLED = Code("email_provider_disabled", 422, "Email signups are disabled")
FEATURE_DISABLED = Code("feature_disabled", 404, "OAuth server is disabled")
FLOW_STATE_EXPIRED = Code("flow_state_expired", 400, "invalid flow state, flow state has expired")
FLOW_STATE_NOT_FOUND = Code("flow_state_not_found", 404, "invalid flow state, no valid flow state found")
INSUFFICIENT_AAL = Code("insufficient_aal", 422, "AAL2 required to enroll a new factor")
INVALID_CREDENTIALS = Code("invalid_credentials", 400, "Invalid login credentials")
MFA_CHALLENGE_EXPIRED = Code("mfa_challenge_expired", 422)
MFA_CHALLENGE_NOT_FOUND = Code("mfa_factor_not_found", 422, "MFA factor with the provided challenge ID not found")
MFA_FACTOR_NAME_CONFLICT = Code("mfa_factor_name_conflict", 422)
MFA_FACTOR_NOT_FOUND = Code("mfa_factor_not_found", 404, "Factor not found")
MFA_VERIFICATION_FAILED = Code("mfa_verification_failed", 422, "Invalid TOTP code entered")
NO_AUTHORIZATION = Code("no_authorization", 401, "This endpoint requires a valid Bearer token")
NOT_ADMIN = Code("not_admin", 403, "User not allowed")
OAUTH_CLIENT_NOT_FOUND = Code("oauth_client_not_found", 404, "OAuth client not found")
OTP_DISABLED = Code("otp_disabled", 422, "Signups not allowed for otp")
OTP_EXPIRED = Code("otp_expired", 403, "Token has expired or is invalid")
PHONE_EXISTS = Code("phone_exists", 422, "A user with this phone number has already been registered")
PHONE_NOT_CONFIRMED = Code("phone_not_confirmed", 400, "Phone not confirmed")
REAUTHENTICATION_NEEDED = Code("reauthentication_needed", 400, "Password update requires reauthentication")
REAUTHENTICATION_NOT_VALID = Code("reauthentication_not_valid", 422, "Verification code is invalid or expired")
REFRESH_TOKEN_ALREADY_USED = Code("refresh_token_already_used", 400, "Invalid Refresh Token: Already Used")
REFRESH_TOKEN_NOT_FOUND = Code("refresh_token_not_found", 400, "Invalid Refresh Token: Refresh Token Not Found")
SAME_PASSWORD = Code("same_password", 422, "New password should be different from the old password.")
SAML_PROVIDER_DISABLED = Code("saml_provider_disabled", 404, "SAML 2.0 is disabled")
SESSION_EXPIRED = Code("session_expired", 400, "Session expired")
SESSION_NOT_FOUND = Code("session_not_found", 403, "Session from session_id claim in JWT does not exist")
SIGNUP_DISABLED = Code("signup_disabled", 422, "Signups not allowed for this instance")
TOO_MANY_ENROLLED_MFA_FACTORS = Code("too_many_enrolled_mfa_factors", 422,
                                     "Maximum number of enrolled factors reached, unenroll to continue")
UNEXPECTED_FAILURE = Code("unexpected_failure", 500, "Unexpected failure")
UNEXPECTED_FAILURE_UNAVAILABLE = Code("unexpected_failure", 503, "Database unavailable, retry shortly")
USER_ALREADY_EXISTS = Code("user_already_exists", 422, "User already registered")
USER_BANNED = Code("user_banned", 400, "User is banned")
USER_BANNED_FORBIDDEN = Code("user_banned", 403, "User is banned")
USER_NOT_FOUND_FORBIDDEN = Code("user_not_found", 403, "User not found")
USER_NOT_FOUND = Code("user_not_found", 404, "User not found")
VALIDATION_FAILED = Code("validation_failed", 400)
VALIDATION_FAILED_NOT_FOUND = Code("validation_failed", 404, "factor_id must be an UUID")
VALIDATION_FAILED_UNPROCESSABLE = Code("validation_failed", 422)
WEAK_PASSWORD = Code("weak_password", 422)
MFA_PHONE_ENROLL_NOT_ENABLED = Code("mfa_phone_enroll_not_enabled", 422, "MFA enroll is disabled for Phone")
MFA_WEBAUTHN_ENROLL_NOT_ENABLED = Code("mfa_webauthn_enroll_not_enabled", 422, "MFA enroll is disabled for Webauthn")
PHONE_PROVIDER_DISABLED = Code("phone_provider_disabled", 400)
PHONE_PROVIDER_DISABLED_UNPROCESSABLE = Code("phone_provider_disabled", 422)
OVER_REQUEST_RATE_LIMIT = Code("over_request_rate_limit", 429, "Request rate limit reached")
OVER_EMAIL_SEND_RATE_LIMIT = Code("over_email_send_rate_limit", 429, "Email rate limit exceeded")
OVER_SMS_SEND_RATE_LIMIT = Code("over_sms_send_rate_limit", 429, "SMS rate limit exceeded")
REQUEST_TOO_LARGE = Code("request_entity_too_large", 413, "Request Entity Too Large")  # gateway/limits, 413-431
HOOK_REFUSED = Code("unexpected_failure", 400, "Hook refused the request")  # the hook's own http_code replaces 400

CATALOGUE: dict[str, Code] = {name: value for name, value in globals().items() if isinstance(value, Code)}


def versioned(request: Request) -> bool:
    return request.headers.get(API_VERSION_HEADER, "") >= API_VERSION


def error_response(request: Request, error: AuthError) -> Response:
    if versioned(request):
        body: dict[str, Any] = {"code": error.error_code, "error_code": error.error_code, "msg": error.msg}
    else:
        body = {"code": error.status, "error_code": error.error_code, "msg": error.msg}
    body.update(error.extra)
    headers = {API_VERSION_HEADER: API_VERSION, **error.headers}
    return Response(orjson.dumps(body), status_code=error.status, media_type="application/json",
                    headers=headers)
