"""PostgREST's filter operators, in one table: the parse stage reads which grammar each takes, the
sql stage its SQL, docs/rest.md lists them (tests/localbase/rest/test_operators.py holds all three to it)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType


class Form(Enum):
    """How the parse stage reads the value after `op.`."""

    QUANTIFIABLE = "quantifiable"  # a value, or `(any)`/`(all)` and a list
    PLAIN = "plain"                # a value
    FULL_TEXT = "full_text"        # `(language)` optionally, then the query
    IS = "is"                      # one of IS_VALUES
    IN = "in"                      # a parenthesised list


@dataclass(frozen=True, slots=True)
class Operator:
    name: str
    form: Form
    sql: str          # the SQL operator; for full-text search the tsquery function
    text: bool        # the right side is compared as text, whatever the column's type
    meaning: str      # for the docs
    wildcard: bool = False  # the parse stage reads `*` in the value as `%`


_ALL = (
    Operator("eq", Form.QUANTIFIABLE, "=", False, "equals"),
    Operator("gt", Form.QUANTIFIABLE, ">", False, "greater than"),
    Operator("gte", Form.QUANTIFIABLE, ">=", False, "greater than or equal"),
    Operator("lt", Form.QUANTIFIABLE, "<", False, "less than"),
    Operator("lte", Form.QUANTIFIABLE, "<=", False, "less than or equal"),
    Operator("neq", Form.PLAIN, "<>", False, "not equal"),
    Operator("like", Form.QUANTIFIABLE, "like", True, "LIKE (`*` stands for `%`)", wildcard=True),
    Operator("ilike", Form.QUANTIFIABLE, "ilike", True, "ILIKE (`*` stands for `%`)", wildcard=True),
    Operator("match", Form.QUANTIFIABLE, "~", True, "POSIX regular expression"),
    Operator("imatch", Form.QUANTIFIABLE, "~*", True, "case-insensitive POSIX regular expression"),
    Operator("in", Form.IN, "= any", False, "one of a list"),
    Operator("is", Form.IS, "is", False, "null, not_null, true, false, unknown"),
    Operator("isdistinct", Form.PLAIN, "is distinct from", False, "not equal, treating null as a value"),
    Operator("fts", Form.FULL_TEXT, "to_tsquery", False, "full-text search"),
    Operator("plfts", Form.FULL_TEXT, "plainto_tsquery", False, "full-text search, plain words"),
    Operator("phfts", Form.FULL_TEXT, "phraseto_tsquery", False, "full-text search, a phrase"),
    Operator("wfts", Form.FULL_TEXT, "websearch_to_tsquery", False, "full-text search, web-search syntax"),
    Operator("cs", Form.PLAIN, "@>", False, "contains"),
    Operator("cd", Form.PLAIN, "<@", False, "contained in"),
    Operator("ov", Form.PLAIN, "&&", False, "overlaps"),
    Operator("sl", Form.PLAIN, "<<", False, "range strictly left of"),
    Operator("sr", Form.PLAIN, ">>", False, "range strictly right of"),
    Operator("nxr", Form.PLAIN, "&<", False, "range does not extend to the right of"),
    Operator("nxl", Form.PLAIN, "&>", False, "range does not extend to the left of"),
    Operator("adj", Form.PLAIN, "-|-", False, "range adjacent to"),
)
OPERATORS: MappingProxyType[str, Operator] = MappingProxyType({op.name: op for op in _ALL})

# The operators whose value, written `op.value` (no quantifier, outside a logic tree), reaches
# PostgreSQL untouched as one bind parameter: the read cache's shapes (rest/read_cache.py) reuse
# a statement for any value of these.
VERBATIM: frozenset[str] = frozenset(op.name for op in _ALL
                                     if op.form in (Form.PLAIN, Form.QUANTIFIABLE) and not op.wildcard)

# `is.<value>` -> its SQL; in the order the parser tries them (`not_null` before `null`)
IS_VALUES: MappingProxyType[str, str] = MappingProxyType({
    "not_null": "is not null", "null": "is null", "unknown": "is unknown", "true": "is true", "false": "is false"})
