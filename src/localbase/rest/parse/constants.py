"""Limits and token sets of the parse stage's grammars."""

import re

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
