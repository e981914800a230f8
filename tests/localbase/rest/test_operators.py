"""The filter operators come from one table (rest/operators.py): every operator in it parses, builds SQL
and is in docs/rest.md; an operator the table lacks is a parse error (PGRST100), never a 500."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from localbase.rest import errors, sql
from localbase.rest.operators import OPERATORS, VERBATIM, Form
from localbase.rest.parse import parse_filter

ROOT = Path(__file__).resolve().parents[3]
PARSE = ROOT / "src/localbase/rest/parse"
VALUES = {Form.IS: "not_null", Form.IN: "(1,2)"}


@pytest.mark.parametrize("name", list(OPERATORS))
def test_each_operator_parses_and_builds_sql(name):
    op = OPERATORS[name]
    _, flt = parse_filter("a", f"{name}.{VALUES.get(op.form, '1')}")
    statement = sql.Builder()._filter("t", {}, flt)
    assert statement.startswith("(") and op.sql in statement


@pytest.mark.parametrize("name", [n for n, op in OPERATORS.items() if op.form is Form.QUANTIFIABLE])
def test_quantifiable_operators_take_any_and_all(name):
    _, flt = parse_filter("a", f"{name}(any).{{1,2}}")
    assert flt.quantifier == "any"
    assert " any(" in sql.Builder()._filter("t", {}, flt)


@pytest.mark.parametrize("name", list(OPERATORS))
def test_verbatim_operators_bind_their_value_untouched(name):
    """VERBATIM (the read cache's shapes rely on it): the value after `op.` is one bind argument, as
    written; a wildcard operator's `*` becomes `%`."""
    op = OPERATORS[name]
    if op.form not in (Form.PLAIN, Form.QUANTIFIABLE):
        assert name not in VERBATIM
        return
    value = "a*b%c,(d).e 'f\"g"
    _, flt = parse_filter("a", f"{name}.{value}")
    builder = sql.Builder()
    builder._filter("t", {}, flt)
    assert builder.args == [value.replace("*", "%") if op.wildcard else value]
    assert (name in VERBATIM) is (not op.wildcard)


@pytest.mark.parametrize("name", ["zz", "between", "contains"])
def test_an_operator_outside_the_table_is_a_parse_error(name):
    with pytest.raises(errors.RestError) as info:
        parse_filter("a", f"{name}.1")
    assert (info.value.status, info.value.code) == (400, "PGRST100")


def test_the_docs_list_the_table():
    doc = (ROOT / "docs/rest.md").read_text()
    rows = [f"| `{op.name}` | {op.meaning} | `{op.sql}` |" for op in OPERATORS.values()]
    assert "\n".join(rows) in doc


def test_no_parse_module_imports_another_s_private_names():
    private = [f"{path.name}: {node.module}.{alias.name}"
               for path in PARSE.glob("*.py")
               for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ImportFrom)
               and (node.module or "").startswith("localbase.rest")
               for alias in node.names if alias.name.startswith("_")]
    assert private == []
