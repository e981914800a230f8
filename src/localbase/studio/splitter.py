"""Split a SQL script into statements at top-level semicolons, as psql does: not inside quotes
('...', E'...', "..."), dollar quotes ($tag$...$tag$) or comments (-- and nested /* */).

Each statement keeps its offset in the script, so an error's position (PostgreSQL counts it in
characters from 1 within the statement) can be shown in the editor's text."""

from __future__ import annotations

import re
from dataclasses import dataclass

_DOLLAR = re.compile(r"\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$")


@dataclass(frozen=True)
class Statement:
    offset: int  # where the statement's text starts in the script (0-based, in characters)
    text: str


def split(script: str) -> list[Statement]:
    statements: list[Statement] = []
    start = i = 0
    n = len(script)
    while i < n:
        c = script[i]
        if c == "'":
            escapes = i > 0 and script[i - 1] in "eE" and (i < 2 or not _word(script[i - 2]))
            i = _quoted(script, i + 1, "'", escapes)
        elif c == '"':
            i = _quoted(script, i + 1, '"', False)
        elif c == "-" and script.startswith("--", i):
            end = script.find("\n", i)
            i = n if end < 0 else end + 1
        elif c == "/" and script.startswith("/*", i):
            i = _block_comment(script, i)
        elif c == "$" and (i == 0 or not _word(script[i - 1])):
            m = _DOLLAR.match(script, i)
            if m:
                end = script.find(m.group(0), m.end())
                i = n if end < 0 else end + len(m.group(0))
            else:
                i += 1
        elif c == ";":
            _add(statements, script, start, i)
            i += 1
            start = i
        else:
            i += 1
    _add(statements, script, start, n)
    return statements


def _word(c: str) -> bool:
    return c.isalnum() or c == "_"


def _quoted(s: str, i: int, quote: str, backslash: bool) -> int:
    n = len(s)
    while i < n:
        c = s[i]
        if backslash and c == "\\":
            i += 2
            continue
        if c == quote:
            if i + 1 < n and s[i + 1] == quote:  # a doubled quote stands for itself
                i += 2
                continue
            return i + 1
        i += 1
    return n


def _block_comment(s: str, i: int) -> int:
    depth, i, n = 1, i + 2, len(s)
    while i < n and depth:
        if s.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif s.startswith("*/", i):
            depth, i = depth - 1, i + 2
        else:
            i += 1
    return i


def _add(out: list[Statement], script: str, start: int, end: int) -> None:
    text = script[start:end]
    if not _meaningful(text):
        return
    lead = len(text) - len(text.lstrip())
    out.append(Statement(start + lead, text.strip()))


def _meaningful(text: str) -> bool:
    """Anything besides whitespace and comments."""
    rest = text
    while True:
        rest = rest.lstrip()
        if rest.startswith("--"):
            end = rest.find("\n")
            rest = "" if end < 0 else rest[end + 1:]
        elif rest.startswith("/*"):
            rest = rest[_block_comment(rest, 0):]
        else:
            return bool(rest)


def line_col(script: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a 0-based character offset."""
    before = script[:offset]
    line = before.count("\n") + 1
    return line, offset - (before.rfind("\n") + 1) + 1
