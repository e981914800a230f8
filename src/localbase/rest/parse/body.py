"""Request bodies: JSON, CSV, form fields, text and bytes."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from urllib.parse import parse_qsl

import orjson

from localbase.rest.parse.headers import decode_media, split_media
from localbase.rest.parse.scanner import invalid_body
from localbase.rest.types import (
    Action,
    MediaType,
)


# -- body ---------------------------------------------------------------------------------------
def request_content_type(headers: Mapping[str, str]) -> MediaType | str:
    value = headers.get("content-type")
    if value is None or not str(value).strip():
        return MediaType.JSON
    media = decode_media(*split_media(str(value)))
    return media


def _json_body(body: bytes, is_rpc: bool) -> object:
    if not body.strip():
        if is_rpc:
            return {}
        raise invalid_body("Empty or invalid json", "The request body is empty")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise invalid_body("Empty or invalid json", str(exc)) from None


def _check_rows(payload: object, has_columns: bool) -> None:
    """A table mutation body: an object, or an array of objects with the same keys."""
    if isinstance(payload, dict):
        return
    if not isinstance(payload, list):
        raise invalid_body("Empty or invalid json", "The body must be a JSON object or an array of objects")
    if not payload or has_columns:
        if not all(isinstance(row, dict) for row in payload):
            raise invalid_body("All object keys must match", "Every element of the array must be an object")
        return
    first = payload[0]
    if not isinstance(first, dict):
        raise invalid_body("All object keys must match", "Every element of the array must be an object")
    keys = first.keys()
    for row in payload:
        if not isinstance(row, dict) or row.keys() != keys:
            raise invalid_body("All object keys must match", None)


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid_body("The request body is not valid UTF-8", str(exc)) from None


def _csv_body(body: bytes) -> list[dict[str, str | None]]:
    text = _text(body)
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        rows = list(reader)
    except csv.Error as exc:
        raise invalid_body("Invalid CSV", str(exc)) from None
    if not rows:
        return []
    header = rows[0]
    if len(set(header)) != len(header):
        raise invalid_body("Invalid CSV", "The header repeats a column name")
    out = []
    for row in rows[1:]:
        if len(row) != len(header):
            raise invalid_body("All lines must have same number of fields", None)
        out.append({k: (None if v == "NULL" else v) for k, v in zip(header, row, strict=True)})
    return out


def read_payload(body: bytes, content_type: MediaType | str, action: Action, is_rpc: bool,
             has_columns: bool) -> object:
    if content_type is MediaType.JSON:
        payload = _json_body(body, is_rpc)
        if not is_rpc:
            _check_rows(payload, has_columns)
        return payload
    if content_type is MediaType.CSV:
        return _csv_body(body)
    if content_type is MediaType.FORM:
        return dict(parse_qsl(_text(body), keep_blank_values=True))
    if is_rpc and content_type in (MediaType.TEXT, MediaType.XML):
        return _text(body)
    if is_rpc and content_type is MediaType.OCTET:
        return bytes(body)
    raise invalid_body(f"Content-Type not acceptable: {content_type}", None)
