"""PostgREST's errors live in one catalogue (rest/errors.py), referenced by name: every code Localbase
answers is there, with the status PostgREST documents for it (docs.postgrest.org, references/errors)."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from localbase.rest import errors

SRC = Path(errors.__file__).resolve().parents[1]  # src/localbase

# PostgREST's documented PGRST codes and their HTTP statuses (references/errors: groups 0, 1, 2, 3).
DOCUMENTED = {
    "PGRST000": 503, "PGRST001": 503, "PGRST002": 503, "PGRST003": 504,
    "PGRST100": 400, "PGRST101": 405, "PGRST102": 400, "PGRST103": 416, "PGRST105": 405, "PGRST106": 406,
    "PGRST107": 406, "PGRST108": 400, "PGRST111": 500, "PGRST112": 500, "PGRST114": 400, "PGRST115": 400,
    "PGRST109": 400, "PGRST110": 400,  # PostgREST 12 (limited PATCH/DELETE; removed in 13)
    "PGRST116": 406, "PGRST117": 405, "PGRST118": 400, "PGRST120": 400, "PGRST121": 500, "PGRST122": 400,
    "PGRST123": 400, "PGRST124": 400, "PGRST125": 404, "PGRST126": 404, "PGRST127": 400, "PGRST128": 400,
    "PGRST200": 400, "PGRST201": 300, "PGRST202": 404, "PGRST203": 300, "PGRST204": 400, "PGRST205": 404,
    "PGRST300": 500, "PGRST301": 401, "PGRST302": 401, "PGRST303": 401,
}
# Localbase's own codes: the HTTP layer's size limits, which PostgREST leaves to a proxy.
OWN = {"PGRST413": 413, "PGRST414": 414, "PGRST431": 431}
# Where Localbase answers another status than PostgREST documents, and why (kept as behaviour).
DEVIATIONS = {
    "PGRST000": 500,  # an internal error (logged), not a refused connection
    "PGRST120": 405,  # a view that cannot take the write: refused before the statement
}


def test_no_module_writes_a_pgrst_code_itself():
    found = [f"{path.relative_to(SRC)}:{n}"
             for path in SRC.rglob("*.py") if path != Path(errors.__file__).resolve()
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if re.search(r"[\"']PGRST\d", line)]
    assert found == []


def test_no_module_builds_a_rest_error_by_hand():
    found = [f"{path.relative_to(SRC)}:{n}"
             for path in (SRC / "rest").rglob("*.py") if path != Path(errors.__file__).resolve()
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if re.search(r"\b(RestError|ApiRequestError)\(", line)]
    assert found == []


@pytest.mark.parametrize("name", sorted(errors.CATALOGUE))
def test_each_code_is_documented_with_its_status(name):
    code = errors.CATALOGUE[name]
    if not code.code.startswith("PGRST"):  # a SQLSTATE PostgreSQL would raise itself
        assert re.fullmatch(r"[0-9A-Z]{5}", code.code)
        return
    expected = DEVIATIONS.get(code.code) or OWN.get(code.code) or DOCUMENTED.get(code.code)
    assert expected is not None, f"{code.code} is not a documented PostgREST code"
    assert code.status == expected


@pytest.mark.parametrize("name", sorted(errors.CATALOGUE))
def test_each_entry_is_used_and_its_template_fills(name):
    code = errors.CATALOGUE[name]
    uses = sum(len(re.findall(rf"\b{name}\b", path.read_text())) for path in SRC.rglob("*.py"))
    assert uses > 1  # besides its definition
    fields = {field for text in (code.message, code.hint or "")
              for _, field, _, _ in string.Formatter().parse(text) if field}
    err = code(**dict.fromkeys(fields, "x"))
    assert (err.status, err.code) == (code.status, code.code)
    assert "{" not in err.message and "{" not in (err.hint or "")


def test_a_missing_field_is_a_programming_error_not_a_half_message():
    with pytest.raises(KeyError):
        errors.TABLE_NOT_FOUND(schema="public")
