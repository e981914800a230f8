"""Parse postgres_changes filter strings (`column=op.value`, as the clients send them) into the
list form that PostgreSQL compiles against the catalog (realtime.filter_predicate).

Supported: eq, neq, lt, lte, gt, gte, in (`status=in.(a,b,"c d")`), is (null/true/false), each
optionally negated with `not.`; several conditions joined by commas are AND-ed. Values stay
text here; PostgreSQL casts them to the column's type (and refuses what it cannot cast).
"""

from __future__ import annotations

OPERATORS = {"eq", "neq", "lt", "lte", "gt", "gte", "in", "is"}


class FilterError(ValueError):
    pass


def _split_top(text: str, sep: str = ",") -> list[str]:
    """Split on `sep` outside parentheses and double quotes."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and ch == sep:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _in_values(raw: str) -> list[str]:
    if not (raw.startswith("(") and raw.endswith(")")):
        raise FilterError(f"in filter needs a parenthesised list: {raw!r}")
    values = []
    for item in _split_top(raw[1:-1]):
        item = item.strip()
        if len(item) >= 2 and item[0] == '"' and item[-1] == '"':
            item = item[1:-1].replace('\\"', '"')
        if item:
            values.append(item)
    return values


def parse(text: str | None) -> list[list]:
    """`"a=eq.1,b=in.(x,y)"` -> [["a", "eq", False, ["1"]], ["b", "in", False, ["x", "y"]]]."""
    if not text:
        return []
    out = []
    for cond in _split_top(text):
        column, sep, rest = cond.partition("=")
        column = column.strip()
        if not sep or not column or "." not in rest:
            raise FilterError(f"invalid filter {cond!r}: expected column=operator.value")
        negate = False
        if rest.startswith("not."):
            negate, rest = True, rest[4:]
        op, _, value = rest.partition(".")
        if op not in OPERATORS:
            raise FilterError(f"unsupported filter operator {op!r} (supported: {', '.join(sorted(OPERATORS))})")
        values = _in_values(value) if op == "in" else [value]
        out.append([column, op, negate, values])
    return out
