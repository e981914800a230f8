"""The SQL editor's statement splitter (unit)."""

from __future__ import annotations

from localbase.studio.splitter import line_col, split


def texts(script: str) -> list[str]:
    return [s.text for s in split(script)]


def test_splits_at_top_level_semicolons_only():
    script = """select 'a;b', "c;d", E'it\\'s; fine';
-- a comment; with a semicolon
create function f() returns int language plpgsql as $body$ begin return 1; end $body$;
/* block; /* nested; */ still; */ select $$x;y$$, $q$;$q$ ; select 1"""
    assert texts(script) == [
        "select 'a;b', \"c;d\", E'it\\'s; fine'",
        "-- a comment; with a semicolon\ncreate function f() returns int language plpgsql as "
        "$body$ begin return 1; end $body$",
        "/* block; /* nested; */ still; */ select $$x;y$$, $q$;$q$",
        "select 1",
    ]


def test_empty_statements_and_comments_alone_are_dropped():
    assert texts(";; -- nothing\n ; /* nor this */ ;") == []
    assert texts("select 1;;") == ["select 1"]


def test_offsets_point_into_the_script():
    script = "select 1;\n\n  select 2 from t"
    second = split(script)[1]
    assert script[second.offset:].startswith("select 2") and line_col(script, second.offset) == (3, 3)


def test_dollar_signs_that_are_not_quotes():
    assert texts("select $1, a$b from t; select 2") == ["select $1, a$b from t", "select 2"]
    assert texts("select 'it''s;'; select 2") == ["select 'it''s;'", "select 2"]
