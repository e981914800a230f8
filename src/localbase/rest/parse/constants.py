"""Limits and token sets of the parse stage's grammars."""

import re

MAX_DEPTH = 64
MAX_INT_DIGITS = 18  # limit/offset/JSON indexes: keep them inside bigint without big-int work
INT32 = 2**31

IDENT = re.compile(r"[\w $]+")               # PostgREST: letter, digit, '_', ' ', '$' (then stripped)
JSON_KEY = re.compile(r"[^(\-:.,>)]+")       # any char but ( - : . , > )
DIGITS = re.compile(r"[0-9]+")
LOWER = re.compile(r"[a-z]+")
WS = " \t"

AGGREGATES = frozenset(("sum", "avg", "count", "max", "min"))
RESERVED = frozenset(("select", "columns", "on_conflict"))
OP_EXPECT = '"not" or operator (eq, gt, ...)'
NAME_EXPECT = "field name (* or [a..z0..9_$])"
