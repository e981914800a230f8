"""Filters, logic trees, `order=`, `columns=` / `on_conflict=`, and embed-scoped keys."""

from __future__ import annotations

from localbase.rest import errors
from localbase.rest.operators import IS_VALUES, OPERATORS, Form
from localbase.rest.parse.constants import (
    LOWER,
    MAX_DEPTH,
    MAX_INT_DIGITS,
    OP_EXPECT,
)
from localbase.rest.parse.scanner import Fail, Scanner, qp_error
from localbase.rest.types import (
    ROOT,
    Condition,
    EmbedPath,
    Field,
    Filter,
    LogicTree,
    OrderTerm,
)


# -- filters ------------------------------------------------------------------------------------
def _list_value(sc: Scanner) -> tuple[str, ...]:
    sc.ws()
    sc.expect("(")
    sc.ws()
    s, n = sc.s, sc.n
    items: list[str] = []
    while True:
        items.append(_element(sc))
        if sc.i < n and s[sc.i] == ",":
            sc.i += 1
            continue
        break
    sc.ws()
    sc.expect(")", '"," or ")"')
    sc.ws()
    if items == [""]:
        return ()
    return tuple(items)


def _element(sc: Scanner, arrays: bool = False) -> str:
    """A list/logic-tree value: "quoted" (only if followed by , ) or end), {array}, or raw."""
    s, n = sc.s, sc.n
    start = sc.i
    if start < n and s[start] == '"':
        try:
            value = sc.quoted()
            if sc.i >= n or s[sc.i] in ",)":
                return value
        except Fail:
            pass
        sc.i = start
    elif arrays and start < n and s[start] == "{":
        close = s.find("}", start + 1)
        brace = s.find("{", start + 1, close if close >= 0 else n)
        if close >= 0 and brace < 0:
            sc.i = close + 1
            return s[start:sc.i]
    i = start
    while i < n and s[i] not in ",)":
        i += 1
    sc.i = i
    return s[start:i]


def _op_expr(sc: Scanner, field: Field, in_tree: bool) -> Filter:
    s = sc.s
    negated = False
    if s.startswith("not.", sc.i):
        negated = True
        sc.i += 4
    start = sc.i
    m = LOWER.match(s, start)
    op = m.group() if m else ""
    sc.i = start + len(op)
    quantifier = language = None
    if op == "in" and sc.peek() == ".":
        sc.i += 1
        return Filter(field, "in", negated, _list_value(sc))
    if op == "is" and sc.peek() == ".":
        sc.i += 1
        head = s[sc.i:sc.i + 8].lower()
        word = next((v for v in IS_VALUES if head.startswith(v)), "")
        if not word:
            raise sc.fail("null or trilean value (unknown, true, false)")
        sc.i += len(word)
        return Filter(field, "is", negated, word)
    form = operator.form if (operator := OPERATORS.get(op)) else None
    if form is Form.FULL_TEXT:
        if sc.peek() == "(":
            sc.i += 1
            language = sc.identifier()
            sc.expect(")")
    elif form is Form.QUANTIFIABLE:
        if s.startswith("(any)", sc.i) or s.startswith("(all)", sc.i):
            quantifier = s[sc.i + 1:sc.i + 4]
            sc.i += 5
    elif form is not Form.PLAIN:
        raise sc.fail(OP_EXPECT, start)
    sc.expect(".", "delimiter (.)")
    if in_tree:
        value = _element(sc, arrays=True)
    else:
        value = s[sc.i:]
        sc.i = sc.n
    if operator is not None and operator.wildcard:
        value = value.replace("*", "%")
    return Filter(field, op, negated, value, quantifier, language)  # type: ignore[arg-type]


def _tree_path(sc: Scanner) -> tuple[EmbedPath, Field]:
    names = [sc.field_name()]
    while sc.peek() == ".":
        sc.i += 1
        names.append(sc.field_name())
    path = sc.json_path()
    return tuple(names[:-1]), Field(names[-1], path)


def _parse_key(key: str) -> tuple[EmbedPath, Field]:
    sc = Scanner(key)
    try:
        result = _tree_path(sc)
        sc.end('delimiter (.), "->", "->>" or end of input')
    except Fail as fail:
        raise qp_error("tree path", key, fail) from None
    return result


def parse_filter(key: str, value: str) -> tuple[EmbedPath, Filter]:
    """Parse one filter pair (`rel.col->a=not.eq.x`) into (embed path, Filter).

    Public for the planner: on GET/HEAD rpc calls it parses the query pairs that are not arguments."""
    path, field = _parse_key(key)
    sc = Scanner(value)
    try:
        flt = _op_expr(sc, field, False)
        sc.end()
    except Fail as fail:
        raise qp_error("filter", value, fail) from None
    return path, flt


# -- logic trees --------------------------------------------------------------------------------
def _logic_tree(sc: Scanner, depth: int) -> Condition:
    if depth > MAX_DEPTH:
        raise sc.fail(f"at most {MAX_DEPTH} levels of nested and/or")
    start = sc.i
    first: Fail | None = None
    try:
        field = sc.field()
        sc.expect(".", "delimiter (.)")
        return _op_expr(sc, field, True)
    except Fail as fail:
        first = fail
        sc.i = start
    try:
        return _logic_group(sc, depth)
    except Fail as fail:
        raise fail if fail.pos >= first.pos else first from None


def _logic_group(sc: Scanner, depth: int) -> LogicTree:
    s = sc.s
    negated = s.startswith("not.", sc.i)
    if negated:
        sc.i += 4
    if s.startswith("and", sc.i):
        op = "and"
    elif s.startswith("or", sc.i):
        op = "or"
    else:
        raise sc.fail("logic operator (and, or)")
    sc.i += len(op)
    sc.ws()
    sc.expect("(")
    sc.ws()
    children = [_logic_tree(sc, depth + 1)]
    sc.ws()
    while sc.peek() == ",":
        sc.i += 1
        sc.ws()
        children.append(_logic_tree(sc, depth + 1))
        sc.ws()
    sc.expect(")", '"," or ")"')
    sc.ws()
    return LogicTree(op, negated, tuple(children))  # type: ignore[arg-type]


def parse_logic_tree(key: str, value: str) -> tuple[EmbedPath, LogicTree]:
    """Parse `[rel.][not.]or|and=(...)` into (embed path, LogicTree)."""
    sc = Scanner(key)
    names: list[str] = []
    try:
        names.append(sc.field_name())
        while sc.peek() == ".":
            sc.i += 1
            names.append(sc.field_name())
        sc.end('delimiter (.) or end of input')
        if names[-1] not in ("and", "or"):
            raise Fail(len(key), "logic operator (and, or)")
    except Fail as fail:
        raise qp_error("logic path", key, fail) from None
    negated = "not" in names[:-1]
    path = tuple(n for n in names[:-1] if n != "not")
    text = ("not." if negated else "") + names[-1] + value
    sc = Scanner(text)
    try:
        tree = _logic_group(sc, 0)
        sc.end()
    except Fail as fail:
        fail.pos = max(0, fail.pos - (len(text) - len(value)))
        raise qp_error("logic tree", value, fail) from None
    return path, tree


# -- order= -------------------------------------------------------------------------------------
def parse_order(value: str) -> tuple[OrderTerm, ...]:
    sc = Scanner(value)
    terms = []
    try:
        while True:
            terms.append(_order_term(sc))
            if sc.peek() != ",":
                break
            sc.i += 1
        sc.end('"," or end of input')
    except Fail as fail:
        raise qp_error("order", value, fail) from None
    return tuple(terms)


def _dotted_word(sc: Scanner) -> str | None:
    """The lower-case word after a '.' at the cursor (not consumed), or None without a '.'."""
    if sc.peek() != ".":
        return None
    m = LOWER.match(sc.s, sc.i + 1)
    return m.group() if m else ""


def _order_term(sc: Scanner) -> OrderTerm:
    sc.ws()
    start = sc.i
    relation = sc.try_field_name()
    if relation is not None and sc.peek() == "(":
        sc.i += 1
        field = sc.field()
        sc.expect(")", '"->", "->>" or ")"')
    else:
        relation = None
        sc.i = start
        field = sc.field()
    descending = nulls_first = None
    word = _dotted_word(sc)
    if word is not None:
        if word in ("asc", "desc"):
            sc.i += 1 + len(word)
            descending = word == "desc"
        elif word not in ("nullsfirst", "nullslast"):
            raise sc.fail('"asc", "desc", "nullsfirst" or "nullslast"', sc.i + 1)
    word = _dotted_word(sc)
    if word is not None:
        if word not in ("nullsfirst", "nullslast"):
            raise sc.fail('"nullsfirst" or "nullslast"', sc.i + 1)
        sc.i += 1 + len(word)
        nulls_first = word == "nullsfirst"
    sc.ws()
    if sc.i < sc.n and sc.s[sc.i] != ",":
        raise sc.fail('delimiter (.), "," or end of input')
    return OrderTerm(field, relation, descending, nulls_first)


# -- columns / on_conflict ----------------------------------------------------------------------
def parse_columns(value: str, what: str = "columns parameter") -> tuple[str, ...]:
    sc = Scanner(value)
    names = []
    try:
        while True:
            sc.ws()
            names.append(sc.field_name())
            sc.ws()
            if sc.peek() != ",":
                break
            sc.i += 1
        sc.end('"," or end of input')
    except Fail as fail:
        raise qp_error(what, value, fail) from None
    return tuple(names)


def embed_path_of(key: str) -> EmbedPath:
    """`a.b.limit` -> ('a', 'b'); the last name is the reserved word."""
    if "." not in key:
        return ROOT
    sc = Scanner(key)
    try:
        names = [sc.field_name()]
        while sc.peek() == ".":
            sc.i += 1
            names.append(sc.field_name())
        sc.end('delimiter (.) or end of input')
    except Fail as fail:
        raise qp_error("tree path", key, fail) from None
    return tuple(names[:-1])


def non_negative(key: str, value: str) -> int:
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > MAX_INT_DIGITS:
        if text.startswith("-") and text[1:].isascii() and text[1:].isdigit() and key.endswith("limit"):
            raise errors.RANGE_NOT_SATISFIABLE("Limit should be greater than or equal to zero.")
        word = "limit" if key.endswith("limit") else "offset"
        raise errors.QUERY_PARSE(f"{word} must be a non-negative integer",
                                 message=f'"failed to parse {word} parameter ({value})"')
    return int(text)
