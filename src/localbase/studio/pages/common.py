"""What the page handlers share: the services, the form, small conversions."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.datastructures import FormData
from starlette.requests import Request

from localbase.studio.errors import StudioError
from localbase.studio.services import Services


def services(request: Request) -> Services:
    return request.app.state.services


async def form(request: Request) -> FormData:
    return await request.form()


def text(data: FormData, name: str, default: str = "") -> str:
    value = data.get(name, default)
    return value if isinstance(value, str) else default


JSON_TYPES = ("json", "jsonb")


def typed(value: str, column_type: str) -> Any:
    """A form field's text as the JSON value REST takes for a column of `column_type`: JSON and
    array columns parse it as JSON; everything else stays text (PostgreSQL casts it)."""
    if column_type in JSON_TYPES or column_type.endswith("[]"):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            if column_type.endswith("[]"):
                return value  # an array literal, {1,2}
            raise StudioError(400, f"not valid JSON for a {column_type} column: {value[:80]}") from None
    return value


def filter_value(value: Any) -> str:
    """A key value as a PostgREST filter operand (eq.<this>)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return orjson.dumps(value).decode()
    return str(value)
