"""Scanner and errors shared by the parse stage's grammars (hand-written, one pass, no backtracking)."""

from __future__ import annotations

import re

from localbase.rest import errors
from localbase.rest.parse.constants import (
    DIGITS,
    IDENT,
    INT32,
    JSON_KEY,
    NAME_EXPECT,
    WS,
)
from localbase.rest.types import (
    ApiRequestError,
    Field,
    JsonStep,
)


# -- errors -------------------------------------------------------------------------------------
class Fail(Exception):
    __slots__ = ("pos", "expecting")

    def __init__(self, pos: int, expecting: str):
        self.pos = pos
        self.expecting = expecting


def qp_error(what: str, text: str, fail: Fail) -> ApiRequestError:
    pos = fail.pos
    unexpected = "end of input" if pos >= len(text) else _show(text[pos])
    details = f"unexpected {unexpected} expecting {fail.expecting}" if fail.expecting else f"unexpected {unexpected}"
    return errors.QUERY_PARSE(details, message=f'"failed to parse {what} ({text})" (line 1, column {pos + 1})')


def _show(ch: str) -> str:
    return '"' + ch.replace("\\", "\\\\").replace('"', '\\"') + '"'


def invalid_body(message: str, details: str | None = None) -> ApiRequestError:
    return errors.INVALID_BODY(details, message=message)


# -- the scanner --------------------------------------------------------------------------------
class Scanner:
    __slots__ = ("s", "i", "n")

    def __init__(self, s: str):
        self.s = s
        self.i = 0
        self.n = len(s)

    def fail(self, expecting: str, pos: int | None = None) -> Fail:
        return Fail(self.i if pos is None else pos, expecting)

    def peek(self) -> str:
        return self.s[self.i] if self.i < self.n else ""

    def ws(self) -> None:
        s, i, n = self.s, self.i, self.n
        while i < n and s[i] in WS:
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
        return self._dashed(IDENT, NAME_EXPECT)

    def try_field_name(self) -> str | None:
        start = self.i
        try:
            return self.field_name()
        except Fail:
            self.i = start
            return None

    def identifier(self, expecting: str = "letter or digit") -> str:
        m = IDENT.match(self.s, self.i)
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
        m = DIGITS.match(s, j)
        if m is not None:
            k = m.end()
            if k >= n or s[k] in ".,)" or s.startswith("->", k) or s.startswith("::", k):
                if k - j > 9 or abs(int(s[i:k])) >= INT32:
                    raise self.fail("a JSON array index within 32 bits", i)
                self.i = k
                return int(s[i:k])
        if i < n and s[i] == '"':
            return self.quoted()
        return self._dashed(JSON_KEY, "any non reserved character different from: .,>()")

    def field(self) -> Field:
        """lexeme(field name + JSON path)."""
        self.ws()
        name = self.field_name()
        path = self.json_path()
        self.ws()
        return Field(name, path)
