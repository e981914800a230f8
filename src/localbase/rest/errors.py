"""PostgREST's error shape `{code, message, details, hint}` and its HTTP status for each SQLSTATE."""

from __future__ import annotations

import logging

import asyncpg
import orjson

log = logging.getLogger("localbase.rest")

# Exact SQLSTATEs first, then classes (the first two characters), as PostgREST maps them.
_EXACT = {
    "23503": 409, "23505": 409, "25006": 405, "42883": 404, "42P01": 404, "42P17": 500,
    "P0001": 400, "53400": 500,
}
_CLASS = {
    "08": 503, "09": 500, "0L": 403, "0P": 403, "25": 500, "28": 403, "2D": 500, "38": 500, "39": 500,
    "3B": 500, "40": 500, "53": 503, "54": 500, "55": 500, "57": 500, "58": 500, "F0": 500, "HV": 500,
    "P0": 500, "XX": 500,
}


class RestError(Exception):
    """An error with PostgREST's body; raised by any stage, rendered by respond."""

    def __init__(self, status: int, code: str, message: str, details: str | None = None,
                 hint: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.hint = hint
        self.headers = headers or {}

    def to_json(self) -> dict:
        return {"code": self.code, "details": self.details, "hint": self.hint, "message": self.message}

    def body(self) -> bytes:
        return orjson.dumps(self.to_json())

    def __repr__(self) -> str:
        return f"RestError({self.status}, {self.code!r}, {self.message!r}, {self.details!r})"


def status_for_sqlstate(sqlstate: str, authenticated: bool) -> int:
    if sqlstate == "42501":
        return 403 if authenticated else 401
    if sqlstate in _EXACT:
        return _EXACT[sqlstate]
    if sqlstate.startswith("PT") and sqlstate[2:].isdigit():
        return int(sqlstate[2:])  # RAISE ... USING ERRCODE = 'PT402' answers 402, as PostgREST
    return _CLASS.get(sqlstate[:2], 400)


def from_postgres(exc: asyncpg.PostgresError, authenticated: bool) -> RestError:
    sqlstate = getattr(exc, "sqlstate", None) or "XX000"
    message = getattr(exc, "message", None) or str(exc)
    details = getattr(exc, "detail", None)
    hint = getattr(exc, "hint", None)
    if sqlstate == "PGRST":  # RAISE SQLSTATE 'PGRST' with a JSON message and detail, as PostgREST
        return _custom_pgrst(message, details)
    status = status_for_sqlstate(sqlstate, authenticated)
    if status >= 500:
        log.error("database error %s: %s", sqlstate, message)
    return RestError(status, sqlstate, message, details, hint)


def _custom_pgrst(message: str, details: str | None) -> RestError:
    try:
        body = orjson.loads(message)
        meta = orjson.loads(details or "{}")
        return RestError(int(meta.get("status", 400)), str(body.get("code", "PGRST")), str(body.get("message", "")),
                         body.get("details"), body.get("hint"),
                         {str(k): str(v) for k, v in (meta.get("headers") or {}).items()})
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        return RestError(500, "PGRST121", "Could not parse JSON in the RAISE SQLSTATE 'PGRST' error",
                         message, None)


def internal_error() -> RestError:
    return RestError(500, "PGRST000", "Internal server error", None, "The server logged the cause.")


# PostgREST's own errors, named once here so every stage words them the same way.
def table_not_found(schema: str, name: str) -> RestError:
    return RestError(404, "PGRST205", f"Could not find the table '{schema}.{name}' in the schema cache",
                     None, None)


def column_not_found(table: str, column: str) -> RestError:
    return RestError(400, "PGRST204", f"Could not find the '{column}' column of '{table}' in the schema cache",
                     None, None)


def schema_not_exposed(schema: str, exposed: tuple[str, ...]) -> RestError:
    return RestError(406, "PGRST106", "Invalid schema: " + schema,
                     None, "Only the following schemas are exposed: " + ", ".join(exposed))


def limit_without_order() -> RestError:
    """PostgREST 12: a limited UPDATE/DELETE picks its rows by an explicit order, never at random."""
    return RestError(400, "PGRST109", "A 'limit' was applied without an explicit 'order'", None,
                     "Apply an 'order' using unique column(s)")


def too_many_changed(changed: int, limit: int) -> RestError:
    """PostgREST 12: a limited UPDATE/DELETE whose order was not unique changed more rows than its
    limit; the transaction is rolled back."""
    return RestError(400, "PGRST110", "The maximum number of rows allowed to change was surpassed",
                     f"Results contain {changed} rows changed but the maximum number allowed is {limit}", None)
