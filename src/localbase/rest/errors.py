"""PostgREST's error shape `{code, message, details, hint}` and its HTTP status for each SQLSTATE."""

from __future__ import annotations

import logging
from dataclasses import dataclass

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
        return RAISE_JSON(details=message)


# -- the catalogue: every error Localbase answers in PostgREST's name -----------------------------
@dataclass(frozen=True, slots=True)
class Code:
    """One PostgREST error: its code, HTTP status and message template (`str.format` fields, filled
    when raised); call it to get the error, e.g. `raise SINGULAR(details=...)`."""

    code: str
    status: int
    message: str
    hint: str | None = None

    def __call__(self, details: str | None = None, hint: str | None = None,
                 headers: dict[str, str] | None = None, **fields: object) -> RestError:
        shown = hint if hint is not None else self.hint.format(**fields) if self.hint else None
        return RestError(self.status, self.code, self.message.format(**fields), details, shown, headers)


# Group 0: connection
INTERNAL = Code("PGRST000", 500, "Internal server error", "The server logged the cause.")
CONNECTION = Code("PGRST001", 503, "Database client error. Retrying the connection.")
POOL_TIMEOUT = Code("PGRST003", 504, "Timed out acquiring connection from connection pool.")
# Group 1: the request
QUERY_PARSE = Code("PGRST100", 400, "{message}")  # the parser words each failure (what, where)
RPC_METHOD = Code("PGRST101", 405, "Cannot use the {method} method on RPC")
INVALID_BODY = Code("PGRST102", 400, "{message}")
RANGE_NOT_SATISFIABLE = Code("PGRST103", 416, "Requested range not satisfiable")
PUT_FILTERS = Code("PGRST105", 405, "Filters must include all and only primary key columns with 'eq' operators")
SCHEMA_NOT_EXPOSED = Code("PGRST106", 406, "Invalid schema: {schema}",
                          "Only the following schemas are exposed: {exposed}")
MEDIA_TYPE = Code("PGRST107", 406, "None of these media types are available: {accept}")
NOT_EMBEDDED = Code("PGRST108", 400, "'{path}' is not an embedded resource in this request",
                    "Verify that '{path}' is included in the 'select' query parameter.")
LIMIT_WITHOUT_ORDER = Code("PGRST109", 400, "A 'limit' was applied without an explicit 'order'",
                           "Apply an 'order' using unique column(s)")  # PostgREST 12: limited PATCH/DELETE
TOO_MANY_CHANGED = Code("PGRST110", 400, "The maximum number of rows allowed to change was surpassed")
PUT_LIMIT = Code("PGRST114", 400, "limit/offset querystring parameters are not allowed for PUT")
PUT_KEY_MISMATCH = Code("PGRST115", 400, "Payload values do not match URL in primary key column(s)")
SINGULAR = Code("PGRST116", 406, "Cannot coerce the result to a single JSON object")
UNSUPPORTED_METHOD = Code("PGRST117", 405, "Unsupported HTTP method: {method}")
RELATED_ORDER = Code("PGRST118", 400, "A related order on '{relation}' is not possible")
VIEW_NOT_WRITABLE = Code("PGRST120", 405, "cannot {kind} into relation \"{name}\"")
TABLE_NOT_WRITABLE = Code("42809", 405, "cannot {kind} into relation \"{name}\"")  # PostgreSQL's wrong_object_type
RAISE_JSON = Code("PGRST121", 500, "Could not parse JSON in the RAISE SQLSTATE 'PGRST' error")
STRICT_PREFERENCES = Code("PGRST122", 400, "Invalid preferences given with handling=strict")
AGGREGATES_DISABLED = Code("PGRST123", 400, "Use of aggregate functions is not allowed")
MAX_AFFECTED = Code("PGRST124", 400, "Query result exceeds max-affected preference constraint")
UPSERT_WITHOUT_KEY = Code("PGRST124", 400, "'{table}' has no primary key to upsert on",
                          "Add on_conflict=<columns> to the request.")
INVALID_PATH = Code("PGRST125", 404, "Invalid path specified in request URL")
RPC_MAX_AFFECTED = Code("PGRST128", 400, "Function must return SETOF or TABLE when max-affected preference is "
                        "used with handling=strict")
UNDEFINED_COLUMN = Code("42703", 400, "column {table}.{name} does not exist")  # as PostgreSQL words it
# Group 2: the schema cache
NO_RELATIONSHIP = Code("PGRST200", 400, "Could not find a relationship between '{parent}' and '{child}' in the "
                       "schema cache")
AMBIGUOUS_EMBED = Code("PGRST201", 300, "Could not embed because more than one relationship was found for "
                       "'{parent}' and '{child}'")
FUNCTION_NOT_FOUND = Code("PGRST202", 404, "Could not find the function {name}{signature} in the schema cache")
AMBIGUOUS_FUNCTION = Code("PGRST203", 300, "Could not choose the best candidate function between: {candidates}")
COLUMN_NOT_FOUND = Code("PGRST204", 400, "Could not find the '{column}' column of '{table}' in the schema cache")
TABLE_NOT_FOUND = Code("PGRST205", 404, "Could not find the table '{schema}.{name}' in the schema cache")
# Group 3: the JWT (`reason` words what failed)
JWT_INVALID = Code("PGRST301", 401, "{reason}")
JWT_CLAIMS = Code("PGRST303", 401, "{reason}")
# Localbase's own: the size limits (PostgREST leaves them to a proxy in front)
PAYLOAD_TOO_LARGE = Code("PGRST413", 413, "Payload too large")
URI_TOO_LONG = Code("PGRST414", 414, "URI Too Long")  # answered by the HTTP layer (gateway/limits)
HEADERS_TOO_LARGE = Code("PGRST431", 431, "Request Header Fields Too Large")

CATALOGUE: dict[str, Code] = {name: value for name, value in globals().items() if isinstance(value, Code)}
