"""Parse stage: (method, path, query pairs, headers, body) -> an immutable `ApiRequest`.

Pure and schema-blind: identifiers are kept as written (the planner checks them). The grammar is
PostgREST v12's (select/filter/order/logic-tree/columns), scanned by hand in one pass without
backtracking regexes. Every failure is an `ApiRequestError` carrying PostgREST's code, status and
message shape, e.g. PGRST100 `"failed to parse filter (zz.1)" (line 1, column 1)`.

Deliberately stricter than PostgREST, which silently ignores some input: trailing text after a
complete filter/key/order/list is an error; limit/offset that are not non-negative integers are
an error; a table mutation body that is a JSON scalar is an error.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from types import MappingProxyType
from urllib.parse import parse_qsl

import orjson

from localbase.rest.types import (
    ROOT, STAR_SELECT, Action, ApiRequest, ApiRequestError, Condition, Embed, EmbedPath, Explain, Field,
    Filter, JsonStep, LogicTree, MediaType, OrderTerm, Preferences, SelectField, SelectItem,
)

MAX_DEPTH = 64
_MAX_INT_DIGITS = 18  # limit/offset/JSON indexes: keep them inside bigint without big-int work
_INT32 = 2**31

_IDENT = re.compile(r"[\w $]+")               # PostgREST: letter, digit, '_', ' ', '$' (then stripped)
_JSON_KEY = re.compile(r"[^(\-:.,>)]+")       # any char but ( - : . , > )
_DIGITS = re.compile(r"[0-9]+")
_LOWER = re.compile(r"[a-z]+")
_WS = " \t"

_QUANT_OPS = frozenset(("eq", "gte", "gt", "lte", "lt", "like", "ilike", "match", "imatch"))
_SIMPLE_OPS = frozenset(("neq", "cs", "cd", "ov", "sl", "sr", "nxr", "nxl", "adj"))
_FTS_OPS = frozenset(("fts", "plfts", "phfts", "wfts"))
_IS_ORDER = ("not_null", "null", "unknown", "true", "false")
_AGGREGATES = frozenset(("sum", "avg", "count", "max", "min"))
_RESERVED = frozenset(("select", "columns", "on_conflict"))
_OP_EXPECT = '"not" or operator (eq, gt, ...)'
_NAME_EXPECT = "field name (* or [a..z0..9_$])"


# -- errors -------------------------------------------------------------------------------------
class _Fail(Exception):
    __slots__ = ("pos", "expecting")

    def __init__(self, pos: int, expecting: str):
        self.pos = pos
        self.expecting = expecting


def _qp_error(what: str, text: str, fail: _Fail) -> ApiRequestError:
    pos = fail.pos
    unexpected = "end of input" if pos >= len(text) else _show(text[pos])
    details = f"unexpected {unexpected} expecting {fail.expecting}" if fail.expecting else f"unexpected {unexpected}"
    return ApiRequestError(400, "PGRST100", f'"failed to parse {what} ({text})" (line 1, column {pos + 1})',
                           details, None)


def _show(ch: str) -> str:
    return '"' + ch.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _invalid_body(message: str, details: str | None = None) -> ApiRequestError:
    return ApiRequestError(400, "PGRST102", message, details, None)


# -- the scanner --------------------------------------------------------------------------------
class _Scanner:
    __slots__ = ("s", "i", "n")

    def __init__(self, s: str):
        self.s = s
        self.i = 0
        self.n = len(s)

    def fail(self, expecting: str, pos: int | None = None) -> _Fail:
        return _Fail(self.i if pos is None else pos, expecting)

    def peek(self) -> str:
        return self.s[self.i] if self.i < self.n else ""

    def ws(self) -> None:
        s, i, n = self.s, self.i, self.n
        while i < n and s[i] in _WS:
            i += 1
        self.i = i

    def expect(self, ch: str, expecting: str | None = None) -> None:
        if self.i < self.n and self.s[self.i] == ch:
            self.i += 1
        else:
            raise self.fail(expecting or _show(ch))

    def at_end(self) -> bool:
        return self.i >= self.n

    def end(self, expecting: str = "end of input") -> None:
        if self.i < self.n:
            raise self.fail(expecting)

    # names ------------------------------------------------------------------------------------
    def quoted(self) -> str:
        """`"..."` with backslash escaping any character; the cursor is on the opening quote."""
        s, n = self.s, self.n
        i = self.i + 1
        out: list[str] = []
        while True:
            q = s.find('"', i)
            b = s.find("\\", i, q if q >= 0 else n)
            if b >= 0:
                out.append(s[i:b])
                if b + 1 >= n:
                    self.i = n
                    raise self.fail('"\\""')
                out.append(s[b + 1])
                i = b + 2
                continue
            if q < 0:
                self.i = n
                raise self.fail('"\\""')
            out.append(s[i:q])
            self.i = q + 1
            return "".join(out)

    def _dashed(self, pattern: re.Pattern[str], expecting: str) -> str:
        """Pieces matching pattern joined by '-' (a '-' followed by '>' is a JSON arrow)."""
        parts = []
        s, n = self.s, self.n
        while True:
            m = pattern.match(s, self.i)
            if m is None:
                raise self.fail(expecting)
            part = m.group().strip()
            if not part:
                raise self.fail(expecting)
            parts.append(part)
            self.i = m.end()
            if self.i < n and s[self.i] == "-" and (self.i + 1 >= n or s[self.i + 1] != ">"):
                self.i += 1
                continue
            return "-".join(parts)

    def field_name(self) -> str:
        if self.peek() == '"':
            return self.quoted()
        return self._dashed(_IDENT, _NAME_EXPECT)

    def try_field_name(self) -> str | None:
        start = self.i
        try:
            return self.field_name()
        except _Fail:
            self.i = start
            return None

    def identifier(self, expecting: str = "letter or digit") -> str:
        m = _IDENT.match(self.s, self.i)
        if m is None or not m.group().strip():
            raise self.fail(expecting)
        self.i = m.end()
        return m.group().strip()

    def json_path(self) -> tuple[JsonStep, ...]:
        s = self.s
        if not s.startswith("->", self.i):
            return ()
        steps = []
        while s.startswith("->", self.i):
            as_text = s.startswith("->>", self.i)
            self.i += 3 if as_text else 2
            steps.append(JsonStep(self._json_operand(), as_text))
        return tuple(steps)

    def _json_operand(self) -> str | int:
        s, i, n = self.s, self.i, self.n
        j = i + 1 if i < n and s[i] == "-" else i
        m = _DIGITS.match(s, j)
        if m is not None:
            k = m.end()
            if k >= n or s[k] in ".,)" or s.startswith("->", k) or s.startswith("::", k):
                if k - j > 9 or abs(int(s[i:k])) >= _INT32:
                    raise self.fail("a JSON array index within 32 bits", i)
                self.i = k
                return int(s[i:k])
        if i < n and s[i] == '"':
            return self.quoted()
        return self._dashed(_JSON_KEY, "any non reserved character different from: .,>()")

    def field(self) -> Field:
        """lexeme(field name + JSON path)."""
        self.ws()
        name = self.field_name()
        path = self.json_path()
        self.ws()
        return Field(name, path)


# -- select= ------------------------------------------------------------------------------------
def _select_forest(sc: _Scanner, depth: int) -> tuple[SelectItem, ...]:
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


def _item_end(sc: _Scanner) -> None:
    sc.ws()
    if sc.i < sc.n and sc.s[sc.i] not in ",)":
        raise sc.fail('"," or end of input' if sc.s[sc.i] != "(" else '"::", "," or end of input')


def _embed_params(sc: _Scanner) -> tuple[str | None, str | None]:
    hint = join = None
    for _ in range(2):
        if sc.peek() != "!":
            break
        sc.i += 1
        word = sc.field_name()
        if word in ("left", "inner") and join is None:
            join = word
        elif hint is None:
            hint = word
        else:
            raise sc.fail('"("', sc.i - len(word))
    return hint, join


def _embed_body(sc: _Scanner, depth: int) -> tuple[SelectItem, ...]:
    sc.expect("(")
    inner = _select_forest(sc, depth + 1)
    sc.expect(")", '"," or ")"')
    sc.ws()
    return inner


def _select_item(sc: _Scanner, depth: int) -> SelectItem:
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
    name = sc.try_field_name()
    if name is not None and sc.peek() == ":" and not s.startswith("::", sc.i):
        alias = name
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
        m = _LOWER.match(s, sc.i + 1)
        if m is None or m.group() not in _AGGREGATES or not s.startswith("()", m.end()):
            raise sc.fail("an aggregate (sum, avg, count, max, min)", sc.i + 1)
        aggregate = m.group()
        sc.i = m.end() + 2
        agg_cast = _cast(sc)
    _item_end(sc)
    return SelectField(Field(name, path), alias, cast, aggregate, agg_cast)


def _cast(sc: _Scanner) -> str | None:
    if not sc.s.startswith("::", sc.i):
        return None
    sc.i += 2
    return sc.identifier()


def parse_select(value: str) -> tuple[SelectItem, ...]:
    sc = _Scanner(value)
    try:
        items = _select_forest(sc, 0)
        sc.end('"," or end of input')
    except _Fail as fail:
        raise _qp_error("select parameter", value, fail) from None
    return items


# -- filters ------------------------------------------------------------------------------------
def _list_value(sc: _Scanner) -> tuple[str, ...]:
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


def _element(sc: _Scanner, arrays: bool = False) -> str:
    """A list/logic-tree value: "quoted" (only if followed by , ) or end), {array}, or raw."""
    s, n = sc.s, sc.n
    start = sc.i
    if start < n and s[start] == '"':
        try:
            value = sc.quoted()
            if sc.i >= n or s[sc.i] in ",)":
                return value
        except _Fail:
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


def _op_expr(sc: _Scanner, field: Field, in_tree: bool) -> Filter:
    s = sc.s
    negated = False
    if s.startswith("not.", sc.i):
        negated = True
        sc.i += 4
    start = sc.i
    m = _LOWER.match(s, start)
    op = m.group() if m else ""
    sc.i = start + len(op)
    quantifier = language = None
    if op == "in" and sc.peek() == ".":
        sc.i += 1
        return Filter(field, "in", negated, _list_value(sc))
    if op == "is" and sc.peek() == ".":
        sc.i += 1
        head = s[sc.i:sc.i + 8].lower()
        word = next((v for v in _IS_ORDER if head.startswith(v)), "")
        if not word:
            raise sc.fail("null or trilean value (unknown, true, false)")
        sc.i += len(word)
        return Filter(field, "is", negated, word)
    if op in _FTS_OPS:
        if sc.peek() == "(":
            sc.i += 1
            language = sc.identifier()
            sc.expect(")")
    elif op in _QUANT_OPS:
        if s.startswith("(any)", sc.i) or s.startswith("(all)", sc.i):
            quantifier = s[sc.i + 1:sc.i + 4]
            sc.i += 5
    elif op not in _SIMPLE_OPS and op != "isdistinct":
        raise sc.fail(_OP_EXPECT, start)
    sc.expect(".", "delimiter (.)")
    if in_tree:
        value = _element(sc, arrays=True)
    else:
        value = s[sc.i:]
        sc.i = sc.n
    if op == "like" or op == "ilike":
        value = value.replace("*", "%")
    return Filter(field, op, negated, value, quantifier, language)  # type: ignore[arg-type]


def _tree_path(sc: _Scanner) -> tuple[EmbedPath, Field]:
    names = [sc.field_name()]
    while sc.peek() == ".":
        sc.i += 1
        names.append(sc.field_name())
    path = sc.json_path()
    return tuple(names[:-1]), Field(names[-1], path)


def _parse_key(key: str) -> tuple[EmbedPath, Field]:
    sc = _Scanner(key)
    try:
        result = _tree_path(sc)
        sc.end('delimiter (.), "->", "->>" or end of input')
    except _Fail as fail:
        raise _qp_error("tree path", key, fail) from None
    return result


def parse_filter(key: str, value: str) -> tuple[EmbedPath, Filter]:
    """Parse one filter pair (`rel.col->a=not.eq.x`) into (embed path, Filter).

    Public for the planner: on GET/HEAD rpc calls it parses the query pairs that are not arguments."""
    path, field = _parse_key(key)
    sc = _Scanner(value)
    try:
        flt = _op_expr(sc, field, False)
        sc.end()
    except _Fail as fail:
        raise _qp_error("filter", value, fail) from None
    return path, flt


# -- logic trees --------------------------------------------------------------------------------
def _logic_tree(sc: _Scanner, depth: int) -> Condition:
    if depth > MAX_DEPTH:
        raise sc.fail(f"at most {MAX_DEPTH} levels of nested and/or")
    start = sc.i
    first: _Fail | None = None
    try:
        field = sc.field()
        sc.expect(".", "delimiter (.)")
        return _op_expr(sc, field, True)
    except _Fail as fail:
        first = fail
        sc.i = start
    try:
        return _logic_group(sc, depth)
    except _Fail as fail:
        raise fail if fail.pos >= first.pos else first from None


def _logic_group(sc: _Scanner, depth: int) -> LogicTree:
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
    sc = _Scanner(key)
    names: list[str] = []
    try:
        names.append(sc.field_name())
        while sc.peek() == ".":
            sc.i += 1
            names.append(sc.field_name())
        sc.end('delimiter (.) or end of input')
        if names[-1] not in ("and", "or"):
            raise _Fail(len(key), "logic operator (and, or)")
    except _Fail as fail:
        raise _qp_error("logic path", key, fail) from None
    negated = "not" in names[:-1]
    path = tuple(n for n in names[:-1] if n != "not")
    text = ("not." if negated else "") + names[-1] + value
    sc = _Scanner(text)
    try:
        tree = _logic_group(sc, 0)
        sc.end()
    except _Fail as fail:
        fail.pos = max(0, fail.pos - (len(text) - len(value)))
        raise _qp_error("logic tree", value, fail) from None
    return path, tree


# -- order= -------------------------------------------------------------------------------------
def parse_order(value: str) -> tuple[OrderTerm, ...]:
    sc = _Scanner(value)
    terms = []
    try:
        while True:
            terms.append(_order_term(sc))
            if sc.peek() != ",":
                break
            sc.i += 1
        sc.end('"," or end of input')
    except _Fail as fail:
        raise _qp_error("order", value, fail) from None
    return tuple(terms)


def _dotted_word(sc: _Scanner) -> str | None:
    """The lower-case word after a '.' at the cursor (not consumed), or None without a '.'."""
    if sc.peek() != ".":
        return None
    m = _LOWER.match(sc.s, sc.i + 1)
    return m.group() if m else ""


def _order_term(sc: _Scanner) -> OrderTerm:
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
    sc = _Scanner(value)
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
    except _Fail as fail:
        raise _qp_error(what, value, fail) from None
    return tuple(names)


def _embed_path_of(key: str) -> EmbedPath:
    """`a.b.limit` -> ('a', 'b'); the last name is the reserved word."""
    if "." not in key:
        return ROOT
    sc = _Scanner(key)
    try:
        names = [sc.field_name()]
        while sc.peek() == ".":
            sc.i += 1
            names.append(sc.field_name())
        sc.end('delimiter (.) or end of input')
    except _Fail as fail:
        raise _qp_error("tree path", key, fail) from None
    return tuple(names[:-1])


def _non_negative(key: str, value: str) -> int:
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > _MAX_INT_DIGITS:
        if text.startswith("-") and text[1:].isascii() and text[1:].isdigit() and key.endswith("limit"):
            raise ApiRequestError(416, "PGRST103", "Requested range not satisfiable",
                                  "Limit should be greater than or equal to zero.", None)
        word = "limit" if key.endswith("limit") else "offset"
        raise ApiRequestError(400, "PGRST100", f'"failed to parse {word} parameter ({value})"',
                              f"{word} must be a non-negative integer", None)
    return int(text)


# -- headers ------------------------------------------------------------------------------------
_PREFS: dict[str, tuple[str, str]] = {
    f"{name}={value}": (attr, value)
    for name, attr, values in (
        ("return", "returning", ("minimal", "representation", "headers-only")),
        ("count", "count", ("exact", "planned", "estimated")),
        ("resolution", "resolution", ("merge-duplicates", "ignore-duplicates")),
        ("missing", "missing", ("default", "null")),
        ("handling", "handling", ("strict", "lenient")),
        ("tx", "tx", ("commit", "rollback")),
        ("params", "params", ("single-object",)),
    )
    for value in values
}


def _header_values(headers: Mapping[str, str], name: str) -> list[str]:
    getlist = getattr(headers, "getlist", None) or getattr(headers, "get_list", None)
    if getlist is not None:
        return [str(v) for v in getlist(name)]
    value = headers.get(name)
    return [] if value is None else [str(value)]


def parse_preferences(values: list[str]) -> Preferences:
    """Prefer header values -> Preferences; raises PGRST122 for unknown ones with handling=strict."""
    found: dict[str, object] = {}
    invalid: list[str] = []
    for header in values:
        for raw in header.split(","):
            pref = raw.strip()
            if not pref:
                continue
            known = _PREFS.get(pref)
            if known is not None:
                found.setdefault(known[0], known[1])
            elif pref.startswith("max-affected=") and pref[13:].isascii() and pref[13:].isdigit() \
                    and len(pref) - 13 <= _MAX_INT_DIGITS:
                found.setdefault("max_affected", int(pref[13:]))
            elif pref.startswith("timezone=") and len(pref) > 9:
                found.setdefault("timezone", pref[9:])
            else:
                invalid.append(pref)
    prefs = Preferences(**found, invalid=tuple(invalid))  # type: ignore[arg-type]
    if invalid and prefs.handling == "strict":
        raise ApiRequestError(400, "PGRST122", "Invalid preferences given with handling=strict",
                              "Invalid preferences: " + ", ".join(invalid), None)
    return prefs


def _split_media(text: str) -> tuple[str, dict[str, str]]:
    """`type/sub; a=b; c="d"` -> ('type/sub', {'a': 'b', 'c': 'd'}), names lower-cased."""
    parts = text.split(";")
    params = {}
    for part in parts[1:]:
        name, eq, value = part.partition("=")
        if eq:
            params[name.strip().lower()] = value.strip().strip('"')
    return parts[0].strip().lower(), params


_SIMPLE_TYPES = {
    "application/json": MediaType.JSON, "application/geo+json": MediaType.GEOJSON, "text/csv": MediaType.CSV,
    "text/plain": MediaType.TEXT, "text/xml": MediaType.XML, "application/openapi+json": MediaType.OPENAPI,
    "application/x-www-form-urlencoded": MediaType.FORM, "application/octet-stream": MediaType.OCTET,
}
_PLAN_OPTIONS = ("analyze", "verbose", "settings", "buffers", "wal")
_ANY = "*/*"


def _decode_media(mime: str, params: dict[str, str]) -> MediaType | str:
    """A media type PostgREST knows, or the mime string itself ('*/*' included)."""
    simple = _SIMPLE_TYPES.get(mime)
    if simple is not None:
        return simple
    stripped = params.get("nulls") == "stripped"
    if mime in ("application/vnd.pgrst.object+json", "application/vnd.pgrst.object"):
        return MediaType.OBJECT_STRIPPED if stripped else MediaType.OBJECT
    if mime in ("application/vnd.pgrst.array+json", "application/vnd.pgrst.array"):
        return MediaType.ARRAY_STRIPPED if stripped else MediaType.JSON
    if mime in ("application/vnd.pgrst.plan", "application/vnd.pgrst.plan+text"):
        return MediaType.PLAN_TEXT
    if mime == "application/vnd.pgrst.plan+json":
        return MediaType.PLAN_JSON
    return mime


_READABLE = frozenset((MediaType.JSON, MediaType.OBJECT, MediaType.OBJECT_STRIPPED, MediaType.ARRAY_STRIPPED,
                       MediaType.CSV, MediaType.GEOJSON, MediaType.PLAN_TEXT, MediaType.PLAN_JSON))
_RPC_EXTRA = frozenset((MediaType.TEXT, MediaType.XML, MediaType.OCTET))


def parse_accept(value: str | None, action: Action, is_rpc: bool) -> tuple[MediaType, Explain | None]:
    """Negotiate Accept (q-values honoured, order kept among equals) -> (media type, EXPLAIN spec).

    No match -> 406 PGRST107. `*/*` answers JSON (OpenAPI on the root)."""
    root = action is Action.INFO_ROOT
    default = MediaType.OPENAPI if root else MediaType.JSON
    if value is None or not value.strip():
        return default, None
    offered: list[tuple[float, int, str, dict[str, str]]] = []
    for n, item in enumerate(value.split(",")):
        mime, params = _split_media(item)
        if not mime:
            continue
        try:
            q = float(params.get("q", "1"))
        except ValueError:
            q = 1.0
        if not q > 0:  # q=0 means "not acceptable"; NaN is refused too
            continue
        offered.append((-q, n, mime, params))
    offered.sort(key=lambda o: (o[0], o[1]))
    allowed = {MediaType.OPENAPI, MediaType.JSON} if root else (_READABLE | _RPC_EXTRA if is_rpc else _READABLE)
    for _, _, mime, params in offered:
        media = _decode_media(mime, params)
        if media == _ANY:
            return default, None
        if media in allowed:
            media = MediaType(media)
            if media in (MediaType.PLAN_TEXT, MediaType.PLAN_JSON):
                target = params.get("for")
                for_media = _decode_media(*_split_media(target)) if target else MediaType.JSON
                if for_media == _ANY or for_media not in _READABLE - {MediaType.PLAN_TEXT, MediaType.PLAN_JSON}:
                    for_media = MediaType.JSON
                options = params.get("options", "").split("|")
                return media, Explain("json" if media is MediaType.PLAN_JSON else "text", MediaType(for_media),
                                      tuple(o for o in _PLAN_OPTIONS if o in options))
            return media, None
    shown = ", ".join(mime for _, _, mime, _ in offered) or value.strip()
    raise ApiRequestError(406, "PGRST107", "None of these media types are available: " + shown, None, None)


# -- ranges -------------------------------------------------------------------------------------
def _header_range(value: str | None) -> tuple[int, int | None] | None:
    """`Range: 0-9` -> (0, 9); `10-` -> (10, None); anything else is ignored (None), as PostgREST."""
    if not value:
        return None
    lower, dash, upper = value.strip().partition("-")
    if not dash or not lower.isascii() or not lower.isdigit() or len(lower) > _MAX_INT_DIGITS:
        return None
    if upper and (not upper.isascii() or not upper.isdigit() or len(upper) > _MAX_INT_DIGITS):
        return None
    return int(lower), (int(upper) if upper else None)


def _root_range(offset: int | None, limit: int | None, header: tuple[int, int | None] | None,
                method: str) -> tuple[int, int | None]:
    low = offset or 0
    high = None if limit is None else low + limit - 1
    if limit == 0:
        return low, 0  # limit=0 is allowed whatever the Range header says
    if header is not None:
        h_low, h_high = header
        if h_high is not None and h_low > h_high:
            raise ApiRequestError(416, "PGRST103", "Requested range not satisfiable",
                                  "The lower boundary must be lower than or equal to the upper boundary in the "
                                  "Range header.", None)
        low = max(low, h_low)
        high = h_high if high is None else (high if h_high is None else min(high, h_high))
        if high is not None and low > high:
            raise ApiRequestError(416, "PGRST103", "Requested range not satisfiable",
                                  "Limit should be greater than or equal to zero.", None)
    return low, (None if high is None else high - low + 1)


# -- body ---------------------------------------------------------------------------------------
def _content_type(headers: Mapping[str, str]) -> MediaType | str:
    value = headers.get("content-type")
    if value is None or not str(value).strip():
        return MediaType.JSON
    media = _decode_media(*_split_media(str(value)))
    return media


def _json_body(body: bytes, is_rpc: bool) -> object:
    if not body.strip():
        if is_rpc:
            return {}
        raise _invalid_body("Empty or invalid json", "The request body is empty")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _invalid_body("Empty or invalid json", str(exc)) from None


def _check_rows(payload: object, has_columns: bool) -> None:
    """A table mutation body: an object, or an array of objects with the same keys."""
    if isinstance(payload, dict):
        return
    if not isinstance(payload, list):
        raise _invalid_body("Empty or invalid json", "The body must be a JSON object or an array of objects")
    if not payload or has_columns:
        if not all(isinstance(row, dict) for row in payload):
            raise _invalid_body("All object keys must match", "Every element of the array must be an object")
        return
    first = payload[0]
    if not isinstance(first, dict):
        raise _invalid_body("All object keys must match", "Every element of the array must be an object")
    keys = first.keys()
    for row in payload:
        if not isinstance(row, dict) or row.keys() != keys:
            raise _invalid_body("All object keys must match", None)


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid_body("The request body is not valid UTF-8", str(exc)) from None


def _csv_body(body: bytes) -> list[dict[str, str | None]]:
    text = _text(body)
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        rows = list(reader)
    except csv.Error as exc:
        raise _invalid_body("Invalid CSV", str(exc)) from None
    if not rows:
        return []
    header = rows[0]
    if len(set(header)) != len(header):
        raise _invalid_body("Invalid CSV", "The header repeats a column name")
    out = []
    for row in rows[1:]:
        if len(row) != len(header):
            raise _invalid_body("All lines must have same number of fields", None)
        out.append({k: (None if v == "NULL" else v) for k, v in zip(header, row)})
    return out


def _payload(body: bytes, content_type: MediaType | str, action: Action, is_rpc: bool,
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
    raise _invalid_body(f"Content-Type not acceptable: {content_type}", None)


# -- the request --------------------------------------------------------------------------------
_TABLE_ACTIONS = {"GET": Action.READ, "HEAD": Action.READ, "POST": Action.INSERT, "PATCH": Action.UPDATE,
                  "PUT": Action.UPSERT, "DELETE": Action.DELETE, "OPTIONS": Action.INFO}
_RPC_ACTIONS = {"GET": Action.CALL, "HEAD": Action.CALL, "POST": Action.CALL, "OPTIONS": Action.INFO}
_ROOT_ACTIONS = {"GET": Action.INFO_ROOT, "HEAD": Action.INFO_ROOT, "OPTIONS": Action.INFO_ROOT}
_CONTENT_PROFILE_METHODS = frozenset(("POST", "PATCH", "PUT", "DELETE"))
_BAD_PATH_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def _target(method: str, path: str) -> tuple[Action, str, bool]:
    parts = path.split("/") if path else []
    if len(parts) == 1 and parts[0] and not _BAD_PATH_CHARS.search(parts[0]):
        action, target, is_rpc = _TABLE_ACTIONS.get(method), parts[0], False
    elif len(parts) == 2 and parts[0] == "rpc" and parts[1] and not _BAD_PATH_CHARS.search(parts[1]):
        action, target, is_rpc = _RPC_ACTIONS.get(method), parts[1], True
        if action is None and method in _TABLE_ACTIONS:
            raise ApiRequestError(405, "PGRST101", f"Cannot use the {method} method on RPC", None, None)
    elif not parts:
        action, target, is_rpc = _ROOT_ACTIONS.get(method), "", False
    else:
        raise ApiRequestError(404, "PGRST125", "Invalid path specified in request URL", None, None)
    if action is None:
        raise ApiRequestError(405, "PGRST117", f"Unsupported HTTP method: {method}", None, None)
    return action, target, is_rpc


def parse_request(method: str, path: str, query: list[tuple[str, str]], headers: Mapping[str, str],
                  body: bytes) -> ApiRequest:
    """The parse stage. path is what follows /rest/v1/ (no leading slash); query is the ordered,
    percent-decoded pairs; headers a case-insensitive mapping (a plain dict is lower-cased)."""
    if type(headers) is dict:
        headers = {str(k).lower(): v for k, v in headers.items()}
    action, target, is_rpc = _target(method, path)
    rpc_read = is_rpc and method in ("GET", "HEAD")

    select: tuple[SelectItem, ...] = STAR_SELECT
    columns = on_conflict = None
    filters: dict[EmbedPath, list[Condition]] = {}
    orders: dict[EmbedPath, tuple[OrderTerm, ...]] = {}
    limits: dict[EmbedPath, int] = {}
    offsets: dict[EmbedPath, int] = {}
    raw_args: list[tuple[str, str]] = []
    for key, value in query:
        if key in _RESERVED:
            if key == "select":
                select = parse_select(value)
            elif key == "columns":
                columns = parse_columns(value)
            else:
                on_conflict = parse_columns(value, "on_conflict parameter")
            continue
        last = key.rpartition(".")[2]
        if last == "order":
            orders.setdefault(_embed_path_of(key), parse_order(value))
        elif last == "limit":
            limits[_embed_path_of(key)] = _non_negative(key, value)
        elif last == "offset":
            offsets[_embed_path_of(key)] = _non_negative(key, value)
        elif last == "and" or last == "or":
            where, tree = parse_logic_tree(key, value)
            filters.setdefault(where, []).append(tree)
        elif rpc_read:
            raw_args.append((key, value))
        else:
            where, flt = parse_filter(key, value)
            filters.setdefault(where, []).append(flt)

    header_range = _header_range(headers.get("range")) if method == "GET" else None
    if method == "PUT" and (ROOT in limits or ROOT in offsets):
        raise ApiRequestError(400, "PGRST114", "limit/offset querystring parameters are not allowed for PUT",
                              None, None)
    ranges: dict[EmbedPath, tuple[int, int | None]] = {}
    for where in limits.keys() | offsets.keys():
        if where != ROOT:
            offset = offsets.get(where, 0)
            ranges[where] = (offset, limits.get(where))
    if ROOT in limits or ROOT in offsets or header_range is not None:
        ranges[ROOT] = _root_range(offsets.get(ROOT), limits.get(ROOT), header_range, method)

    preferences = parse_preferences(_header_values(headers, "prefer"))
    accept, explain = parse_accept(headers.get("accept"), action, is_rpc)
    profile = headers.get("content-profile" if method in _CONTENT_PROFILE_METHODS else "accept-profile")
    schema = str(profile).strip() if profile is not None else None

    content_type: MediaType | str = MediaType.JSON
    payload = None
    if action in (Action.INSERT, Action.UPDATE, Action.UPSERT) or (is_rpc and method == "POST"):
        content_type = _content_type(headers)
        payload = _payload(body, content_type, action, is_rpc, columns is not None)

    return ApiRequest(
        action=action, method=method, target=target, is_rpc=is_rpc, schema=schema or None, select=select,
        filters=MappingProxyType({k: tuple(v) for k, v in filters.items()}),
        orders=MappingProxyType(orders), ranges=MappingProxyType(ranges),
        columns=columns, on_conflict=on_conflict, preferences=preferences, accept=accept,
        content_type=content_type, payload=payload, raw_args=tuple(raw_args), explain=explain,
    )
