"""Logging set-up: human-readable text (the default), or one JSON object per line
(`localbase start --log-format json`, LOCALBASE_LOG_FORMAT=json, [localbase] log_format = "json").

A JSON line holds `ts` (UTC, ISO 8601), `level`, `logger`, `msg`, the record's extra fields
(`logger.info("...", extra={"status": 200})` becomes `"status": 200`) and `exc` for a traceback.

Secrets never reach a log line: fields named like a secret (apikey, authorization, password,
token, secret, jwt, cookie, ...) are replaced by "[REDACTED]" at any depth, and in every text
(the message included) JWTs, passwords in URLs and secret query parameters are masked.

Access logs (logger `localbase.access`, one line per HTTP request, at INFO) are on by default with
JSON logs and off with text logs; LOCALBASE_ACCESS_LOG / [localbase] access_log / --access-log
decide otherwise.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

REDACTED = "[REDACTED]"
ACCESS_FIELDS = "access_fields"  # an access record's fields, already safe (see access_logger)
_SECRET_KEY = re.compile(r"apikey|api_key|authorization|password|passwd|pwd|secret|token|jwt|cookie|"
                         r"credential|private_key|service_role_key|anon_key", re.IGNORECASE)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_OPAQUE_SECRET = re.compile(r"sb_secret_[A-Za-z0-9_-]+")  # the new-format service key
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.IGNORECASE)
_QUERY_SECRET = re.compile(r"((?:apikey|api_key|access_token|refresh_token|token|token_hash|password|secret|code)=)"
                           r"[^&\s\"']+", re.IGNORECASE)
# attributes every LogRecord has: anything else on a record is an `extra` field
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName",
                                                                        "color_message"}  # uvicorn's


def redact_text(text: str) -> str:
    if "://" in text:
        text = _URL_PASSWORD.sub(r"\1****@", text)
    if "eyJ" in text:
        text = _JWT.sub(REDACTED, text)
    if "sb_secret_" in text:
        text = _OPAQUE_SECRET.sub(REDACTED, text)
    if "=" in text:
        text = _QUERY_SECRET.sub(r"\1" + REDACTED, text)
    return text


def redact(value: Any, key: str = "") -> Any:
    """A copy of `value` safe to log: secret-named fields masked, texts scrubbed."""
    if key and _SECRET_KEY.search(key) and value not in (None, "", [], {}):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


_MAYBE_SECRET = re.compile(_SECRET_KEY.pattern + r"|code=|%", re.IGNORECASE)


def redact_query(query: str) -> str:
    """A query string with the values of secret-named parameters masked."""
    if not query or not _MAYBE_SECRET.search(query):  # the common case: one regex scan, nothing to mask
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(_SECRET_KEY.search(k) or k.lower() == "code" for k, _ in pairs):
        return redact_text(query)
    return urlencode([(k, REDACTED if (_SECRET_KEY.search(k) or k.lower() == "code") else redact_text(v))
                      for k, v in pairs], safe="[]*,.:()/")


class JsonFormatter(logging.Formatter):
    _second = -1
    _prefix = ""

    def _ts(self, created: float, msecs: float) -> str:
        second = int(created)
        if second != self._second:  # strftime once a second, not once a line
            self._second, self._prefix = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int(msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        fields = record.__dict__.get(ACCESS_FIELDS)
        if fields is not None:  # an access line: built from fields already safe to log
            return orjson.dumps({"ts": self._ts(record.created, record.msecs), "level": "info",
                                 "logger": record.name, "msg": record.msg, **fields}).decode()
        entry: dict[str, Any] = {
            "ts": self._ts(record.created, record.msecs),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact_text(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = redact(value, key)
        if record.exc_info:
            entry["exc"] = redact_text(self.formatException(record.exc_info))
        elif record.stack_info:
            entry["stack"] = redact_text(self.formatStack(record.stack_info))
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """The text format, with the same scrubbing of secrets."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if ACCESS_FIELDS in record.__dict__:
            return super().format(record)  # its message holds no query string
        return redact_text(super().format(record))


def configure(log_format: str = "text", level: str | None = None, *, access_log: bool = False) -> None:
    """Route every logger (uvicorn's and asyncio's included) through one handler on stderr."""
    level = (level or ("info" if log_format == "json" else "warning")).upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # ours is localbase.access
    access = logging.getLogger("localbase.access")
    access.disabled = not access_log
    if access_log:
        access.setLevel(logging.INFO)  # whatever the level of the rest
    if log_format == "json":
        def excepthook(kind, exc, tb):
            logging.getLogger("localbase").critical("unhandled exception", exc_info=(kind, exc, tb))
        sys.excepthook = excepthook


def access_logger():
    """The gateway's per-request hook: (scope, service, status, seconds) -> one INFO line."""
    logger = logging.getLogger("localbase.access")

    def write(scope, service: str, status: int, seconds: float) -> None:
        if logger.disabled or not logger.isEnabledFor(logging.INFO):
            return
        query = scope.get("query_string", b"").decode("latin-1")
        path = scope.get("path", "")
        if "eyJ" in path:  # a token in a path
            path = redact_text(path)
        client = scope.get("client")
        agent = ""
        for name, value in scope.get("headers", ()):
            if name == b"user-agent":
                agent = value.decode("latin-1")
                break
        method = scope.get("method", "GET")
        ms = round(seconds * 1000, 2)
        # the message carries no query string (where secrets may be): nothing in it to scrub
        logger.info(f"{method} {path} {status} {ms:.1f}ms", extra={ACCESS_FIELDS: {
            "method": method, "path": path, "query": redact_query(query), "status": status,
            "duration_ms": ms, "service": service, "client": client[0] if client else None,
            "user_agent": agent}})

    return write
