"""The table grid's query to REST (a pure stage): sort, PostgREST filters and keyset pages.

Pages are keyset pages: ordered by the chosen column (nulls last) and then the primary key, the
next page starts after the last row's key and the previous one before the first row's, as a
PostgREST `or=(...)` filter - no OFFSET, so page 1,000 is as fast as page 1. A table without a
primary key pages by offset instead."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import orjson

OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch", "is", "isdistinct",
             "in", "cs", "cd", "ov", "fts", "plfts", "phfts", "wfts", "not.eq", "not.like", "not.ilike", "not.is",
             "not.in")


@dataclass(frozen=True)
class Key:
    column: str
    descending: bool = False
    nullable: bool = True


@dataclass
class GridQuery:
    columns: list[str]  # what the grid shows (the table's columns)
    keys: list[Key]  # the order: the sort column, then the primary key (keyset pages need it unique)
    filters: list[tuple[str, str, str]] = field(default_factory=list)  # (column, operator, value)
    limit: int = 50
    after: list[Any] | None = None  # the key values of the row a page starts after ...
    before: list[Any] | None = None  # ... or ends before
    offset: int = 0  # tables without a primary key

    def params(self) -> list[tuple[str, str]]:
        """The REST query string (pairs) for this page; with `before`, rows come in reverse order."""
        reverse = self.before is not None
        order = ",".join(f"{k.column}.{_dir(k.descending, reverse)}" for k in self.keys)
        out: list[tuple[str, str]] = [("select", ",".join(_quote_name(c) for c in self.columns))]
        for column, op, value in self.filters:
            out.append((column, f"{op}.{value}"))
        cursor = self.before if reverse else self.after
        if cursor is not None:
            tree = keyset(self.keys, cursor, reverse)
            if tree:
                out.append(("or", f"({tree})"))
        if order:
            out.append(("order", order))
        out.append(("limit", str(self.limit + 1)))  # one more: is there a page after it?
        if self.offset:
            out.append(("offset", str(self.offset)))
        return out


def _dir(descending: bool, reverse: bool) -> str:
    """The order of a key as PostgreSQL sorts by default (NULL above every value: ascending puts
    nulls last, descending first); a previous page reads it backwards, which keeps that rule."""
    return "desc.nullsfirst" if descending != reverse else "asc.nullslast"


def keyset(keys: list[Key], values: list[Any], reverse: bool = False) -> str:
    """A PostgREST logic tree (without the outer parentheses) for rows after `values` in the order
    of `keys`, or before them with `reverse`."""
    terms = []
    for i, key in enumerate(keys):
        after = _beyond(key, values[i], reverse)
        if after is None:
            continue
        equal = [_equal(k, values[j]) for j, k in enumerate(keys[:i])]
        terms.append(f"and({','.join([*equal, after])})" if equal else after)
    return ",".join(terms)


def _beyond(key: Key, value: Any, reverse: bool) -> str | None:
    """Rows strictly past `value` on this key, NULL being above every value (None: nothing is)."""
    name = _quote_name(key.column)
    if key.descending == reverse:  # read ascending: nulls come last
        if value is None:
            return None
        return f"or({name}.gt.{literal(value)},{name}.is.null)" if key.nullable else f"{name}.gt.{literal(value)}"
    if value is None:
        return f"{name}.not.is.null"
    return f"{name}.lt.{literal(value)}"


def _equal(key: Key, value: Any) -> str:
    name = _quote_name(key.column)
    return f"{name}.is.null" if value is None else f"{name}.eq.{literal(value)}"


def literal(value: Any) -> str:
    """A value in a PostgREST logic tree: double-quoted, with \\ and " escaped."""
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    if isinstance(value, bool):
        text = "true" if value else "false"
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _quote_name(name: str) -> str:
    """A column in select/order/filters: quoted when it is not a plain name."""
    if name.replace("_", "a").isalnum() and not name[:1].isdigit():
        return name
    return '"' + name.replace('"', '""') + '"'


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(text: str | None) -> list[Any] | None:
    if not text:
        return None
    try:
        values = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise ValueError("this page link is damaged; start from the first page") from None
    if not isinstance(values, list):
        raise ValueError("this page link is damaged; start from the first page")
    return values
