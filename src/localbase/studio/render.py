"""Templates and how values look in them: JSON folded but readable, NULL told from '', long text
cut (the whole of it on hover), times in UTC."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from localbase.studio.guard import session_of

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
MAX_TEXT = 120

NAV = [("tables", "Tables", "/tables"), ("sql", "SQL editor", "/sql"), ("policies", "Policies", "/policies"),
       ("auth", "Auth", "/auth"), ("realtime", "Realtime", "/realtime"), ("storage", "Storage", "/storage"),
       ("logs", "Logs", "/logs"), ("api", "API docs", "/api")]


def _default(value: Any) -> Any:
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    return str(value)


def pretty_json(value: Any) -> str:
    return orjson.dumps(value, default=_default, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()


def plain(value: Any) -> str:
    """A value as an input shows it for editing (JSON for objects and arrays)."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return pretty_json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return _default(value) if not isinstance(value, str) else value


def cell(value: Any) -> Markup:
    if value is None:
        return Markup('<span class="null">NULL</span>')
    if isinstance(value, bool):
        return Markup(f'<span class="bool">{"true" if value else "false"}</span>')
    if isinstance(value, (dict, list)):
        n = len(value)
        summary = (f"{{…}} {n} key{'s' * (n != 1)}" if isinstance(value, dict) else f"[…] {n} item{'s' * (n != 1)}")
        if n == 0:
            return Markup(f'<code class="json">{"{}" if isinstance(value, dict) else "[]"}</code>')
        return Markup(f'<details class="json"><summary>{escape(summary)}</summary>'
                      f'<pre>{escape(pretty_json(value))}</pre></details>')
    if isinstance(value, datetime.datetime):
        text = value.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S") + " UTC" if value.tzinfo \
            else value.isoformat(sep=" ")
        return Markup(f'<span title="{escape(value.isoformat())}">{escape(text)}</span>')
    text = value if isinstance(value, str) else _default(value)
    if text == "":
        return Markup('<span class="empty">(empty)</span>')
    if len(text) > MAX_TEXT:
        return Markup(f'<span title="{escape(text[:2000])}">{escape(text[:MAX_TEXT])}…</span>')
    return Markup(escape(text))


def when(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, (int, float)):
        value = datetime.datetime.fromtimestamp(value, datetime.UTC)
    if isinstance(value, datetime.datetime):
        if value.tzinfo:
            value = value.astimezone(datetime.UTC)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def row_key(table, row: dict[str, Any]) -> str:
    """A grid row's primary key as JSON (what edit and delete send back)."""
    return orjson.dumps({c: row.get(c) for c in table.primary_key}).decode()


templates = Jinja2Templates(directory=str(TEMPLATES))
templates.env.filters.update(cell=cell, plain=plain, pretty_json=pretty_json, when=when)
templates.env.globals.update(NAV=NAV, row_key=row_key)


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A template rendered with what every page needs: the session's CSRF token and the nav."""
    session = session_of(request)
    settings = request.app.state.settings
    context.update(csrf=session.csrf, login=settings.studio.login_required, project=settings.project_dir.name)
    return templates.TemplateResponse(request, name, context, status_code=status)


def navigate(location: str) -> HTMLResponse:
    """After a mutation: studio.js (which sent it) loads `location`."""
    return HTMLResponse("", headers={"x-studio-location": location})


def fragment_request(request: Request) -> bool:
    """Sent by studio.js (which swaps the answer into the page), not a page load."""
    return request.headers.get("x-studio") == "1"
