"""The fuzzy matching behind PostgREST's "Perhaps you meant" hints, on PostgREST's own examples."""

from __future__ import annotations

import pytest

from localbase.rest import fuzzy

PROCS = ["test", "another"]  # the functions of schema api
OVERLOADS = ["(name, param, val)", "(attr, id)"]  # test(val, param, name), test(id, attr): sorted names


@pytest.mark.parametrize(("name", "expected"), [("testt", "test"), ("other", None), ("noclosealternative", None)])
def test_function_names_need_a_close_match(name, expected):
    assert fuzzy.best(PROCS, name, 0.75) == expected


@pytest.mark.parametrize(("params", "expected"), [
    (["vall", "pqaram", "nam"], "(name, param, val)"), (["val", "param"], "(name, param, val)"),
    (["id", "attrs"], "(attr, id)"), (["id"], "(attr, id)"), (["noclosealternative"], None)])
def test_parameters_match_an_overload_loosely(params, expected):
    assert fuzzy.best(OVERLOADS, "(" + ", ".join(sorted(params)) + ")") == expected


@pytest.mark.parametrize(("name", "expected"), [("film", "films"), ("noclosealternative", None)])
def test_table_names(name, expected):
    assert fuzzy.best(["films"], name) == expected


def test_an_exact_match_scores_one_and_case_is_ignored():
    assert fuzzy.matches(["directors", "roles", "actors"], "Roles") == [(1.0, "roles")]
    close = [value for score, value in fuzzy.matches(["directors", "roles", "actors"], "role") if score < 1.0]
    assert close[0] == "roles"
