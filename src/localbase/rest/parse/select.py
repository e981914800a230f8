"""`select=`: columns, aliases, casts, JSON paths, aggregates and embedded resources."""

from __future__ import annotations

from typing import Literal

from localbase.rest.parse.constants import AGGREGATES, LOWER, MAX_DEPTH
from localbase.rest.parse.scanner import Fail, Scanner, qp_error
from localbase.rest.types import (
    STAR_SELECT,
    Embed,
    Field,
    SelectField,
    SelectItem,
)


# -- select= ------------------------------------------------------------------------------------
def _select_forest(sc: Scanner, depth: int) -> tuple[SelectItem, ...]:
    if depth > MAX_DEPTH:
        raise sc.fail(f"at most {MAX_DEPTH} levels of embedding")
    sc.ws()
    if sc.at_end() or sc.peek() == ")":
        return ()
    items = [_select_item(sc, depth)]
    while sc.peek() == ",":
        sc.i += 1
        sc.ws()
        items.append(_select_item(sc, depth))
    return tuple(items)


def _item_end(sc: Scanner) -> None:
    sc.ws()
    if sc.i < sc.n and sc.s[sc.i] not in ",)":
        raise sc.fail('"," or end of input' if sc.s[sc.i] != "(" else '"::", "," or end of input')


def _embed_params(sc: Scanner) -> tuple[str | None, Literal["left", "inner"] | None]:
    hint: str | None = None
    join: Literal["left", "inner"] | None = None
    for _ in range(2):
        if sc.peek() != "!":
            break
        sc.i += 1
        word = sc.field_name()
        if word in ("left", "inner") and join is None:
            join = "left" if word == "left" else "inner"
        elif hint is None:
            hint = word
        else:
            raise sc.fail('"("', sc.i - len(word))
    return hint, join


def _embed_body(sc: Scanner, depth: int) -> tuple[SelectItem, ...]:
    sc.expect("(")
    inner = _select_forest(sc, depth + 1)
    sc.expect(")", '"," or ")"')
    sc.ws()
    return inner


def _select_item(sc: Scanner, depth: int) -> SelectItem:
    sc.ws()
    s = sc.s
    if s.startswith("...", sc.i):
        sc.i += 3
        name = sc.field_name()
        hint, join = _embed_params(sc)
        return Embed(name, None, hint, join, True, _embed_body(sc, depth))
    if sc.peek() == "*":
        sc.i += 1
        _item_end(sc)
        return STAR_SELECT[0]
    alias = None
    start = sc.i
    first = sc.try_field_name()
    if first is not None and sc.peek() == ":" and not s.startswith("::", sc.i):
        alias = first
        sc.i += 1
        sc.ws()
    else:
        sc.i = start
    if s.startswith("count()", sc.i):
        sc.i += 7
        agg_cast = _cast(sc)
        _item_end(sc)
        return SelectField(Field("*"), alias, None, "count", agg_cast)
    name = sc.field_name()
    c = sc.peek()
    if c == "!" or (c == "(" and name != "count"):
        hint, join = _embed_params(sc)
        return Embed(name, alias, hint, join, False, _embed_body(sc, depth))
    path = sc.json_path()
    sc.ws()
    cast = _cast(sc)
    aggregate = agg_cast = None
    if sc.peek() == ".":
        m = LOWER.match(s, sc.i + 1)
        if m is None or m.group() not in AGGREGATES or not s.startswith("()", m.end()):
            raise sc.fail("an aggregate (sum, avg, count, max, min)", sc.i + 1)
        aggregate = m.group()
        sc.i = m.end() + 2
        agg_cast = _cast(sc)
    _item_end(sc)
    return SelectField(Field(name, path), alias, cast, aggregate, agg_cast)


def _cast(sc: Scanner) -> str | None:
    if not sc.s.startswith("::", sc.i):
        return None
    sc.i += 2
    return sc.identifier()


def parse_select(value: str) -> tuple[SelectItem, ...]:
    sc = Scanner(value)
    try:
        items = _select_forest(sc, 0)
        sc.end('"," or end of input')
    except Fail as fail:
        raise qp_error("select parameter", value, fail) from None
    return items
