"""The grid's query to REST (unit): keyset conditions as PostgREST logic trees."""

from __future__ import annotations

import pytest

from localbase.studio.grid import GridQuery, Key, decode_cursor, encode_cursor, keyset, literal


def test_after_a_row_ascending_nulls_last():
    keys = [Key("owner"), Key("id", nullable=False)]
    assert keyset(keys, ["u1", 7]) == 'or(owner.gt."u1",owner.is.null),and(owner.eq."u1",id.gt."7")'
    assert keyset(keys, [None, 7]) == 'and(owner.is.null,id.gt."7")'  # nothing sorts after NULL


def test_after_a_row_descending_nulls_first():
    keys = [Key("owner", descending=True), Key("id", nullable=False)]
    assert keyset(keys, ["u1", 7]) == 'owner.lt."u1",and(owner.eq."u1",id.gt."7")'
    assert keyset(keys, [None, 7]) == 'owner.not.is.null,and(owner.is.null,id.gt."7")'


def test_before_a_row_is_the_mirror():
    keys = [Key("owner"), Key("id", nullable=False)]
    assert keyset(keys, ["u1", 7], reverse=True) == 'owner.lt."u1",and(owner.eq."u1",id.lt."7")'
    assert keyset(keys, [None, 7], reverse=True) == 'owner.not.is.null,and(owner.is.null,id.lt."7")'


def test_literals_are_quoted_and_escaped():
    assert literal('a"b\\c,d)') == '"a\\"b\\\\c,d)"'
    assert literal(1.5) == '"1.5"' and literal(True) == '"true"'


def test_params_of_a_previous_page_read_backwards():
    q = GridQuery(["id", "title"], [Key("title", True), Key("id", nullable=False)], [("title", "like", "a*")], 25,
                  before=["m", 3])
    params = dict(q.params())
    assert params["order"] == "title.asc.nullslast,id.desc.nullsfirst"
    assert params["limit"] == "26" and params["title"] == "like.a*"
    assert params["or"] == '(or(title.gt."m",title.is.null),and(title.eq."m",id.lt."3"))'


def test_cursors_round_trip_and_damage_is_told():
    assert decode_cursor(encode_cursor(["a", 1, None])) == ["a", 1, None]
    with pytest.raises(ValueError):
        decode_cursor("not*base64")
