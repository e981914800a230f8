"""The read cache's shapes (rest/read_cache.py): reads that differ only in simple filters' values reuse
one planned statement, and what they reuse is exactly what planning each read anew gives. Unit tests
on the in-memory schema of test_plan, then reads through the official client under RLS."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localbase.rest import plan as plan_stage
from localbase.rest import read_cache
from localbase.rest.operators import OPERATORS, VERBATIM
from localbase.rest.parse import parse_request, query_pairs
from localbase.rest.plan import Planner
from localbase.rest.read_cache import PreparedRead, ReadCache
from tests.localbase.helpers import client_for
from tests.localbase.rest.test_plan import schema

SCHEMA = schema()
ONE = "application/vnd.pgrst.object+json"


def fresh(path: str, query: str, headers: dict[str, str]) -> PreparedRead:
    """The read planned anew, as on a cache miss."""
    req = plan_stage.producible(parse_request("GET", path, query_pairs(query.encode()), headers, b""), SCHEMA,
                                headers.get("accept", ""))
    return read_cache.prepare(req, Planner(SCHEMA, 1000), head=False)


def through(cache: ReadCache, path: str, query: str, headers: dict[str, str] | None = None) -> PreparedRead | None:
    """What the cache's shapes answer for the read (None: not known yet), learning it when unknown."""
    headers = headers or {}
    pairs = query_pairs(query.encode())
    shape = cache.shape(1, "GET", path, pairs, headers)
    if shape is None:
        return None
    found = cache.get_shaped(shape)
    if found is None:
        cache.learn(shape, fresh(path, query, headers),
                    lambda marked: read_cache.prepare(plan_stage.producible(
                        parse_request("GET", path, marked, headers, b""), SCHEMA, headers.get("accept", "")),
                        Planner(SCHEMA, 1000), head=False))
    return found


ODD_VALUES = ["1", "0", "-5", "007", "null", "NULL", "true", "", "x", "a,b", "(1,2)", "{1,2}", "'; drop table x; --",
              '"quoted"', "a*b", "50%", "100%25", "é", "日本", "\\", "a.b.c", "eq.5", "not.eq.5", "lb-value-0",
              " spaced ", "line\nbreak"]


@pytest.mark.parametrize("query, headers", [
    ("select=*&id=eq.{v}", {"accept": ONE}),
    ("select=name&name=neq.{v}&order=id", {}),
    ("select=name,countries(name)&country_id=gt.{v}&limit=3", {}),
    ("id=not.eq.{v}&name=lte.{v}", {}),  # the same value twice: two arguments all the same
    ("countries.name=eq.{v}&select=name,countries(name)", {}),
    ("name=match.{v}&id=isdistinct.{v}", {}),
    ("select=*&id=eq.{v}", {"prefer": "count=estimated"}),  # the exact count's statement too
    ("select=*&id=gte.{v}", {"prefer": "count=planned"}),  # EXPLAIN's arguments too
])
def test_a_shape_gives_what_planning_anew_gives_for_every_value(query, headers):
    cache = ReadCache()
    path = "cities"
    assert through(cache, path, query.format(v="1"), headers) is None  # learnt here
    for value in ODD_VALUES:
        q = query.replace("{v}", value.replace("%", "%25").replace("&", "%26").replace("\n", "%0A"))
        got = through(cache, path, q, headers)
        if not value:  # `eq.` with nothing after it is not a simple filter's value: never shaped
            assert got is None or got == fresh(path, q, headers)
            continue
        assert got is not None, q
        assert got == fresh(path, q, headers), q


def test_values_that_are_not_bound_untouched_are_never_slots():
    assert "like" not in VERBATIM and "ilike" not in VERBATIM and OPERATORS["like"].wildcard
    assert not {"in", "is", "fts", "plfts", "phfts", "wfts"} & VERBATIM
    for query in ("name=like.*a*", "name=ilike.A*", "id=in.(1,2)", "name=is.null", "name=fts.word",
                  "name=eq(any).{a,b}", "or=(id.eq.1,id.eq.2)", "and=(id.eq.1)", "order=id.desc", "limit=5",
                  "offset=eq.5", "select=eq.x", "countries.order=name", "not.or=(id.eq.1)"):
        assert ReadCache.shape(1, "GET", "cities", query_pairs(query.encode()), {}) is None, query


def test_like_values_stay_in_the_key_beside_slots():
    cache = ReadCache()
    query = "name=like.*a*&id=gt.{}"
    assert through(cache, "cities", query.format(1)) is None
    assert through(cache, "cities", query.format(2)) == fresh("cities", query.format(2), {})
    other = "name=like.*b*&id=gt.2"  # another like value: another shape
    assert through(cache, "cities", other) is None
    assert through(cache, "cities", other.replace("gt.2", "gt.3")) == fresh("cities", other.replace("gt.2", "gt.3"), {})


def test_a_shape_that_does_not_plan_is_not_reused():
    cache = ReadCache()
    with pytest.raises(Exception):  # noqa: B017 - the ordinary miss raises PostgREST's error
        through(cache, "cities", "nope=eq.1")
    shape = cache.shape(1, "GET", "cities", query_pairs(b"nope=eq.2"), {})
    assert shape is not None and cache.get_shaped(shape) is None


def test_headers_and_schema_versions_are_part_of_the_shape():
    cache = ReadCache()
    through(cache, "cities", "id=eq.1", {"accept": ONE})
    assert cache.get_shaped(cache.shape(1, "GET", "cities", query_pairs(b"id=eq.2"), {})) is None
    assert cache.get_shaped(cache.shape(2, "GET", "cities", query_pairs(b"id=eq.2"), {"accept": ONE})) is None
    assert cache.get_shaped(cache.shape(1, "HEAD", "cities", query_pairs(b"id=eq.2"), {"accept": ONE})) is None
    assert cache.get_shaped(cache.shape(1, "GET", "cities", query_pairs(b"id=eq.2"), {"accept": ONE})) is not None


def test_shapes_are_bounded():
    cache = ReadCache(shapes=4)
    for k in range(10):
        through(cache, "cities", f"id=eq.1&name=neq.x&select=id{',name' * k}")
    assert len(cache._shapes) == 4


def test_reads_by_id_through_the_client_see_own_rows_only(localbase_server, make_user):
    """Reads by id through supabase-py, each URL new to the server (so planned from its shape after
    the first): each answer is the row asked for when it is the caller's own, and nothing when it is
    someone else's."""
    alice, alice_token = make_user()
    bob, bob_token = make_user()
    a = client_for(localbase_server, alice_token)
    b = client_for(localbase_server, bob_token)
    mine = a.table("notes").insert([{"body": f"alice {k}"} for k in range(30)]).execute().data
    theirs = b.table("notes").insert([{"body": f"bob {k}"} for k in range(30)]).execute().data
    for note in mine:
        assert a.table("notes").select("*").eq("id", note["id"]).execute().data == [note]
        assert b.table("notes").select("*").eq("id", note["id"]).execute().data == []
        assert a.table("notes").select("body").eq("id", note["id"]).single().execute().data == {"body": note["body"]}
    for note in theirs:
        assert a.table("notes").select("*").eq("id", note["id"]).execute().data == []
        assert b.table("notes").select("body").eq("id", note["id"]).maybe_single().execute().data == \
            {"body": note["body"]}
    ids = sorted(n["id"] for n in mine)
    assert [n["id"] for n in a.table("notes").select("id").gt("id", ids[9]).in_("id", ids).order("id")
            .execute().data] == ids[10:]
    assert b.table("notes").select("id").gt("id", ids[9]).in_("id", ids).execute().data == []


def test_the_key_reads_exactly_the_shaping_headers():
    headers = {name: f"value of {name}" for name in (*read_cache.SHAPING_HEADERS, "authorization", "x-other")}
    key = ReadCache.key(3, "GET", "items", b"id=eq.1", headers)
    assert key == (3, "GET", "items", b"id=eq.1", *(headers[h] for h in read_cache.SHAPING_HEADERS))
    assert ReadCache.key(3, "GET", "items", b"id=eq.1", {}) == (3, "GET", "items", b"id=eq.1",
                                                                *(None for _ in read_cache.SHAPING_HEADERS))


# the regular expression `simple` stands for (the cut every read's shape was made with before)
_REGEX = re.compile(r"((?:not\.)?(?:" + "|".join(sorted(VERBATIM, key=len, reverse=True)) + r")\.)(.+)", re.S)


@pytest.mark.parametrize("value", [
    *(f"{op}.{v}" for op in sorted(VERBATIM) for v in ("1", "", ".", "a.b", "\n", "not.eq.1")),
    *(f"not.{op}.{v}" for op in sorted(VERBATIM) for v in ("1", "", ".", "x\ny")),
    "", ".", "not", "not.", "not.not.eq.1", "eq", "not.eq", "like.a", "in.(1,2)", "is.null", "EQ.1", "eq1", "noteq.1",
    "not.like.a", "nq.1", ".eq.1", "not..1", "eq..", *ODD_VALUES,
])
def test_simple_splits_as_the_regular_expression_did(value):
    match = _REGEX.fullmatch(value)
    assert read_cache.simple(value) == (match.groups() if match else None)


@given(st.lists(st.sampled_from(["not", "eq", "gte", "gt", "isdistinct", "like", ".", "1", "x", "\n"])).map("".join))
def test_simple_splits_as_the_regular_expression_did_for_any_value(value):
    match = _REGEX.fullmatch(value)
    assert read_cache.simple(value) == (match.groups() if match else None)


def test_no_verbatim_operator_has_a_dot_or_is_not():
    assert not any("." in op for op in VERBATIM) and "not" not in VERBATIM


@pytest.mark.parametrize("query, headers", [
    ("select=*&id=eq.{v}", {"accept": ONE}),
    ("id=not.eq.{v}&name=lte.{v}", {}),
    ("select=*&id=eq.{v}", {"prefer": "count=estimated"}),  # the exact count's statement too
    ("select=*&id=gte.{v}", {"prefer": "count=planned"}),  # EXPLAIN's arguments too
])
def test_a_known_shape_answers_the_statement_planning_anew_gives(query, headers):
    cache = ReadCache()
    assert cache.shaped(1, "GET", "cities", query_pairs(query.format(v="1").encode()), headers) is None
    through(cache, "cities", query.format(v="1"), headers)
    for value in ODD_VALUES:
        if not value:
            continue
        q = query.replace("{v}", value.replace("%", "%25").replace("&", "%26").replace("\n", "%0A"))
        found = cache.shaped(1, "GET", "cities", query_pairs(q.encode()), headers)
        assert found is not None, q
        prepared, statement = found
        want = fresh("cities", q, headers)
        assert statement == want.statement, q
        assert dataclasses.replace(prepared, statement=statement) == want, q
    assert cache.shaped(2, "GET", "cities", query_pairs(query.format(v="1").encode()), headers) is None
    assert cache.shaped(1, "HEAD", "cities", query_pairs(query.format(v="1").encode()), headers) is None
