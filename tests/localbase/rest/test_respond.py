"""The respond stage's pure parts: Preference-Applied in PostgREST's order, and the checks a
statement's row must pass before its transaction commits."""

from __future__ import annotations

import pytest

from localbase.rest import respond
from localbase.rest.errors import RestError
from localbase.rest.parse.headers import parse_preferences


def prefs(text: str):
    return parse_preferences([text])


@pytest.mark.parametrize(("prefer", "action", "applied"), [
    ("return=representation, count=exact", "update", ["return=representation", "count=exact"]),
    ("resolution=merge-duplicates, missing=default, return=minimal", "insert",
     ["return=minimal", "resolution=merge-duplicates", "missing=default"]),
    ("resolution=ignore-duplicates", "upsert", []),  # PUT: no resolution to apply
    ("count=planned, return=representation", None, ["count=planned"]),  # a read or a call
])
def test_preference_applied(prefer, action, applied):
    assert respond.preference_applied(prefs(prefer), action) == applied


def test_row_checks_single_and_max_affected():
    assert respond.row_checks(False, prefs("")) is None
    one = respond.row_checks(True, prefs(""))
    one({"page_total": 1})
    with pytest.raises(RestError) as info:
        one({"page_total": 2})
    assert info.value.code == "PGRST116"
    strict = respond.row_checks(False, prefs("handling=strict, max-affected=2"))
    strict({"page_total": 2})
    with pytest.raises(RestError) as info:
        strict({"page_total": 3})
    assert (info.value.code, info.value.details) == ("PGRST124", "The query affects 3 rows")
    assert respond.row_checks(False, prefs("handling=strict, max-affected=2"), max_affected=False) is None
