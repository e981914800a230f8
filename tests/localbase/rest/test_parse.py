"""Unit tests of the REST parse stage: PostgREST's wire grammar, what supabase-py sends, errors."""

from __future__ import annotations

from urllib.parse import parse_qsl

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from postgrest import SyncPostgrestClient
from postgrest.base_request_builder import _encode_json_body
from postgrest.utils import sanitize_param

from localbase.rest.errors import RestError
from localbase.rest.parse import (
    MAX_DEPTH,
    parse_filter,
    parse_logic_tree,
    parse_order,
    parse_request,
    parse_select,
    query_pairs,
)
from localbase.rest.types import (
    Action,
    ApiRequestError,
    Embed,
    Explain,
    Field,
    Filter,
    JsonStep,
    LogicTree,
    MediaType,
    OrderTerm,
    SelectField,
)


def req(method="GET", path="t", query=(), headers=None, body=b""):
    return parse_request(method, path, list(query), headers or {}, body)


def err(*args, **kwargs) -> ApiRequestError:
    with pytest.raises(ApiRequestError) as info:
        req(*args, **kwargs)
    return info.value


def F(name, *path):
    return Field(name, tuple(path))


client = SyncPostgrestClient("http://localhost/rest/v1")


def from_builder(builder):
    """The request the official client would send, without sending it."""
    r = builder.request
    path = str(r.path).split("/rest/v1/", 1)[1]
    body = _encode_json_body(r.json) if r.json is not None and r.http_method not in ("GET", "HEAD", "DELETE") else b""
    return parse_request(r.http_method, path, list(r.params.multi_items()), r.headers, body)


# -- path and action ----------------------------------------------------------------------------
@pytest.mark.parametrize("method,action", [("GET", Action.READ), ("HEAD", Action.READ), ("POST", Action.INSERT),
                                           ("PATCH", Action.UPDATE), ("PUT", Action.UPSERT),
                                           ("DELETE", Action.DELETE), ("OPTIONS", Action.INFO)])
def test_table_actions(method, action):
    body = b'{"a":1}' if method in ("POST", "PATCH", "PUT") else b""
    r = req(method, "people", body=body)
    assert (r.action, r.target, r.is_rpc, r.method) == (action, "people", False, method)


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
def test_rpc_actions(method):
    r = req(method, "rpc/add_them")
    assert (r.action, r.target, r.is_rpc) == (Action.CALL, "add_them", True)


def test_root_and_bad_paths():
    assert req("GET", "").action is Action.INFO_ROOT
    assert req("GET", "").accept is MediaType.OPENAPI
    for path in ("a/b", "rpc/", "rpc/a/b", "/t", "t/", "a\x00b"):
        e = err("GET", path)
        assert (e.status, e.code) == (404, "PGRST125")
    e = err("PATCH", "rpc/f")
    assert (e.status, e.code, e.message) == (405, "PGRST101", "Cannot use the PATCH method on RPC")
    e = err("TRACE", "t")
    assert (e.status, e.code, e.message) == (405, "PGRST117", "Unsupported HTTP method: TRACE")
    assert err("POST", "").code == "PGRST117"


# -- select= ------------------------------------------------------------------------------------
def test_select_default_and_simple():
    assert req().select == (SelectField(F("*")),)
    assert parse_select("id,name") == (SelectField(F("id")), SelectField(F("name")))
    assert parse_select("") == ()
    assert parse_select(" id , name ") == (SelectField(F("id")), SelectField(F("name")))


def test_select_alias_cast_json_paths():
    (item,) = parse_select("alias:data->a->>b::int")
    assert item == SelectField(F("data", JsonStep("a", False), JsonStep("b", True)), "alias", "int")
    (item,) = parse_select("data->0->>name")
    assert item.field.json_path == (JsonStep(0, False), JsonStep("name", True))
    (item,) = parse_select("data->-1")
    assert item.field.json_path == (JsonStep(-1, False),)
    (item,) = parse_select("data->0abc")
    assert item.field.json_path == (JsonStep("0abc", False),)
    (item,) = parse_select('"my col":"weird, name"::text')
    assert item == SelectField(F("weird, name"), "my col", "text")
    (item,) = parse_select('data->"a.b"->>"c,d"')
    assert item.field.json_path == (JsonStep("a.b", False), JsonStep("c,d", True))
    (item,) = parse_select("first-name")
    assert item.field.name == "first-name"
    (item,) = parse_select("data->!@#$%^&*_a")
    assert item.field.json_path == (JsonStep("!@#$%^&*_a", False),)


def test_select_embeds():
    items = parse_select("*,client:clients!client_id!inner(id,projects(*)),...owner!left(name),tags!fk(*)")
    assert items[0] == SelectField(F("*"))
    client_ = items[1]
    assert isinstance(client_, Embed)
    assert (client_.relation, client_.alias, client_.hint, client_.join, client_.spread) == \
        ("clients", "client", "client_id", "inner", False)
    assert client_.name == "client"
    assert client_.select[1] == Embed("projects", select=(SelectField(F("*")),))
    assert items[2] == Embed("owner", None, None, "left", True, (SelectField(F("name")),))
    assert items[3] == Embed("tags", None, "fk", None, False, (SelectField(F("*")),))
    assert parse_select("rel!inner!hint(id)")[0] == Embed("rel", None, "hint", "inner", False,
                                                          (SelectField(F("id")),))
    assert parse_select("rel()")[0] == Embed("rel")
    assert parse_select(" a ( b , c ( d ) ) ")[0] == Embed("a", select=(
        SelectField(F("b")), Embed("c", select=(SelectField(F("d")),))))


def test_select_aggregates():
    assert parse_select("count()")[0] == SelectField(F("*"), aggregate="count")
    assert parse_select("n:count()::int")[0] == SelectField(F("*"), "n", None, "count", "int")
    assert parse_select("amount.sum()")[0] == SelectField(F("amount"), aggregate="sum")
    assert parse_select("total:amount::numeric.avg()::int")[0] == \
        SelectField(F("amount"), "total", "numeric", "avg", "int")


@pytest.mark.parametrize("text", ["name(", "id,", "a b(", "rel->x(*)", "name!hint", "name::", "a)b", "x.foo()",
                                  '"unterminated', "count(x)", "*!x", "a,,b", "data->", "a:::b"])
def test_select_errors(text):
    with pytest.raises(ApiRequestError) as info:
        parse_select(text)
    e = info.value
    assert (e.status, e.code) == (400, "PGRST100")
    assert e.message.startswith(f'"failed to parse select parameter ({text})" (line 1, column ')
    assert e.details.startswith("unexpected ")


def test_select_error_position_and_details():
    with pytest.raises(ApiRequestError) as info:
        parse_select("id,name(")
    assert info.value.message == '"failed to parse select parameter (id,name()" (line 1, column 9)'
    assert info.value.details.startswith("unexpected end of input")
    assert info.value.to_json() == {"code": "PGRST100", "details": info.value.details, "hint": None,
                                    "message": info.value.message}


def test_select_depth_is_bounded():
    deep = "a(" * (MAX_DEPTH + 5) + "*" + ")" * (MAX_DEPTH + 5)
    with pytest.raises(ApiRequestError) as info:
        parse_select(deep)
    assert info.value.code == "PGRST100"
    ok = "a(" * MAX_DEPTH + "*" + ")" * MAX_DEPTH
    assert isinstance(parse_select(ok)[0], Embed)


# -- filters ------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["eq", "neq", "gt", "gte", "lt", "lte", "match", "imatch", "isdistinct", "cs", "cd",
                                "ov", "sl", "sr", "nxr", "nxl", "adj", "fts", "plfts", "phfts", "wfts"])
def test_every_operator(op):
    assert parse_filter("c", f"{op}.v.w") == ((), Filter(F("c"), op, False, "v.w"))
    assert parse_filter("c", f"not.{op}.x") == ((), Filter(F("c"), op, True, "x"))


def test_filter_values():
    assert parse_filter("name", "like.*son*")[1].value == "%son%"
    assert parse_filter("name", "ilike.A*")[1].value == "A%"
    assert parse_filter("name", "match.^a.*$")[1].value == "^a.*$"
    assert parse_filter("c", "eq.")[1].value == ""
    assert parse_filter("c", "eq.a,b)(")[1].value == "a,b)("
    assert parse_filter("tags", "cs.{a,b}")[1].value == "{a,b}"
    assert parse_filter("data", 'cs.["json"]')[1].value == '["json"]'
    assert parse_filter("r", "sl.(1,10)")[1].value == "(1,10)"
    f = parse_filter("doc", "fts(english).cat & dog")[1]
    assert (f.operator, f.language, f.value) == ("fts", "english", "cat & dog")
    f = parse_filter("doc", "not.wfts(simple).x")[1]
    assert (f.operator, f.language, f.negated) == ("wfts", "simple", True)


@pytest.mark.parametrize("text,value", [("is.null", "null"), ("is.NULL", "null"), ("is.not_null", "not_null"),
                                        ("is.true", "true"), ("is.False", "false"), ("is.unknown", "unknown")])
def test_is(text, value):
    assert parse_filter("c", text)[1] == Filter(F("c"), "is", False, value)


def test_in_lists():
    assert parse_filter("id", "in.(1,2,3)")[1].value == ("1", "2", "3")
    assert parse_filter("id", 'in.(a,"b,c",d)')[1].value == ("a", "b,c", "d")
    assert parse_filter("id", r'in.("say \"hi\"","back\\slash")')[1].value == ('say "hi"', "back\\slash")
    assert parse_filter("id", 'in.(a"b,c)')[1].value == ('a"b', "c")
    assert parse_filter("id", 'in.("x"y,z)')[1].value == ('"x"y', "z")
    assert parse_filter("id", "in.()")[1].value == ()
    assert parse_filter("id", "in.( 1,2 )")[1].value == ("1", "2 ")
    assert parse_filter("id", "not.in.(1)")[1] == Filter(F("id"), "in", True, ("1",))


def test_quantifiers():
    f = parse_filter("name", "like(any).{a*,*b}")[1]
    assert (f.operator, f.quantifier, f.value) == ("like", "any", "{a%,%b}")
    f = parse_filter("n", "eq(all).{1,2}")[1]
    assert (f.operator, f.quantifier, f.value) == ("eq", "all", "{1,2}")
    assert parse_filter("n", "not.gte(any).{1}")[1].negated


def test_filter_keys():
    assert parse_filter("data->>a", "eq.x") == ((), Filter(F("data", JsonStep("a", True)), "eq", False, "x"))
    assert parse_filter("data->0->b", "eq.1")[1].field == F("data", JsonStep(0, False), JsonStep("b", False))
    assert parse_filter("rel.col", "eq.x")[0] == ("rel",)
    assert parse_filter("rel.sub.col->>k", "eq.x")[0] == ("rel", "sub")
    assert parse_filter('"a,b"', "eq.x")[1].field == F("a,b")
    assert parse_filter('"a.b".c', "eq.x") == (("a.b",), Filter(F("c"), "eq", False, "x"))
    assert parse_filter("first name", "eq.x")[1].field == F("first name")


@pytest.mark.parametrize("key,value,col", [
    ("id", "zz.1", 1), ("id", "val", 1), ("id", "eq", 3), ("id", "is.maybe", 4), ("id", "in.1,2", 4),
    ("id", "in.(1,2", 8), ("id", "in.(1))", 7), ("id", "eq(some).1", 3), ("id", "fts().x", 5), ("id", "is.nullx", 8),
    ("id", "", 1), ("id", "not.", 5), ("id", "not.not.eq.1", 5),
])
def test_filter_errors(key, value, col):
    with pytest.raises(ApiRequestError) as info:
        parse_filter(key, value)
    e = info.value
    assert (e.status, e.code) == (400, "PGRST100")
    assert e.message == f'"failed to parse filter ({value})" (line 1, column {col})'


def test_filter_error_details_match_postgrest():
    with pytest.raises(ApiRequestError) as info:
        parse_filter("a.b", "noop.0")
    assert info.value.details == 'unexpected "n" expecting "not" or operator (eq, gt, ...)'


@pytest.mark.parametrize("key", ["", "id;drop", "a.", "data->", "a..b", '"x'])
def test_bad_filter_keys(key):
    with pytest.raises(ApiRequestError) as info:
        parse_filter(key, "eq.1")
    assert info.value.code == "PGRST100"
    assert info.value.message.startswith(f'"failed to parse tree path ({key})"')


def test_filters_in_request_keep_order_and_paths():
    r = req(query=[("select", "*,cities(*)"), ("b", "eq.1"), ("cities.name", "eq.x"), ("a", "gt.2")])
    assert [f.field.name for f in r.filters[()]] == ["b", "a"]
    assert r.filters[("cities",)] == (Filter(F("name"), "eq", False, "x"),)
    with pytest.raises(TypeError):
        r.filters[()] = ()  # type: ignore[index]


# -- logic trees --------------------------------------------------------------------------------
def test_logic_trees():
    path, tree = parse_logic_tree("or", "(a.eq.1,and(b.gt.2,c.lt.3))")
    assert path == ()
    assert tree == LogicTree("or", False, (
        Filter(F("a"), "eq", False, "1"),
        LogicTree("and", False, (Filter(F("b"), "gt", False, "2"), Filter(F("c"), "lt", False, "3")))))
    assert parse_logic_tree("not.and", "(a.eq.1)")[1].negated
    assert parse_logic_tree("rel.or", "(a.eq.1)")[0] == ("rel",)
    path, tree = parse_logic_tree("rel.not.or", "(a.eq.1,not.and(b.is.null,c.not.like.*x*))")
    assert path == ("rel",) and tree.negated
    inner = tree.children[1]
    assert inner.negated and inner.children[1] == Filter(F("c"), "like", True, "%x%")


def test_logic_tree_values():
    tree = parse_logic_tree("or", '(a.eq."x,y",b.in.(1,"2,3"),c.cs.{a,b},d.eq(any).{1,2},e.eq."(p)")')[1]
    assert [c.value for c in tree.children] == ["x,y", ("1", "2,3"), "{a,b}", "{1,2}", "(p)"]
    assert tree.children[3].quantifier == "any"
    tree = parse_logic_tree("and", "( a.eq.1 , b->>k.fts(english).w , not.or( c.is.true ) )")[1]
    assert tree.children[1] == Filter(F("b", JsonStep("k", True)), "fts", False, "w ", None, "english")
    assert tree.children[2] == LogicTree("or", True, (Filter(F("c"), "is", False, "true"),))
    # a column named like a keyword still works
    assert parse_logic_tree("or", "(or.eq.1,not.eq.2)")[1].children == (
        Filter(F("or"), "eq", False, "1"), Filter(F("not"), "eq", False, "2"))


@pytest.mark.parametrize("key,value", [("or", "()"), ("or", "(id.in.1,2,id.eq.3)"), ("or", ")("),
                                       ("and", "(ord(id.eq.1),id.eq.2)"), ("or", "(id.eq.1,not.xor(id.eq.2))"),
                                       ("or", "(a.eq.1"), ("or", "(a.eq.1))"), ("or", ""), ("or", "a.eq.1")])
def test_logic_tree_errors(key, value):
    with pytest.raises(ApiRequestError) as info:
        parse_logic_tree(key, value)
    assert info.value.code == "PGRST100"
    assert info.value.message.startswith(f'"failed to parse logic tree ({value})" (line 1, column ')


def test_logic_tree_depth_is_bounded():
    deep = "(" + "and(" * 1000 + "a.eq.1" + ")" * 1001
    with pytest.raises(ApiRequestError) as info:
        parse_logic_tree("or", deep)
    assert info.value.code == "PGRST100" and "levels" in info.value.details
    ok = "(" + "and(" * (MAX_DEPTH - 1) + "a.eq.1" + ")" * MAX_DEPTH
    parse_logic_tree("or", ok)


def test_logic_trees_in_request():
    r = req(query=[("not.or", "(a.eq.1,b.eq.2)"), ("x", "eq.1"), ("cities.or", "(n.eq.1)")])
    assert isinstance(r.filters[()][0], LogicTree) and r.filters[()][0].negated
    assert r.filters[()][1] == Filter(F("x"), "eq", False, "1")
    assert r.filters[("cities",)][0].operator == "or"


# -- order= -------------------------------------------------------------------------------------
def test_order():
    assert parse_order("id") == (OrderTerm(F("id")),)
    assert parse_order("name.desc.nullsfirst,id.asc,x.nullslast") == (
        OrderTerm(F("name"), None, True, True), OrderTerm(F("id"), None, False, None),
        OrderTerm(F("x"), None, None, False))
    assert parse_order("data->a->>b.desc") == (OrderTerm(F("data", JsonStep("a", False), JsonStep("b", True)),
                                                         None, True, None),)
    assert parse_order("clients(name).desc") == (OrderTerm(F("name"), "clients", True, None),)
    assert parse_order("clients(data->k).asc.nullsfirst") == (
        OrderTerm(F("data", JsonStep("k", False)), "clients", False, True),)
    assert parse_order(" a , b ") == (OrderTerm(F("a")), OrderTerm(F("b")))


@pytest.mark.parametrize("text", ["", "id.ac", "id.descc", "id.nulsfist", "id.nullslasttt", "id.asc.nlsfst",
                                  "clients(name,id)", "a,", "id.asc.desc"])
def test_order_errors(text):
    with pytest.raises(ApiRequestError) as info:
        parse_order(text)
    assert info.value.code == "PGRST100"
    assert info.value.message.startswith(f'"failed to parse order ({text})"')


def test_order_in_request():
    r = req(query=[("select", "*,cities(*)"), ("order", "id.desc"), ("cities.order", "name.asc")])
    assert r.orders[()] == (OrderTerm(F("id"), None, True, None),)
    assert r.orders[("cities",)] == (OrderTerm(F("name"), None, False, None),)


# -- limit, offset, Range -----------------------------------------------------------------------
def test_limit_offset():
    assert req(query=[("limit", "10")]).ranges == {(): (0, 10)}
    assert req(query=[("offset", "5")]).ranges == {(): (5, None)}
    assert req(query=[("limit", "10"), ("offset", "5")]).ranges == {(): (5, 10)}
    assert req(query=[("limit", "0")]).ranges == {(): (0, 0)}
    r = req(query=[("cities.limit", "2"), ("cities.offset", "1"), ("a.b.limit", "3")])
    assert r.ranges == {("cities",): (1, 2), ("a", "b"): (0, 3)}
    assert req().ranges == {}


def test_limit_offset_errors():
    e = err(query=[("limit", "-1")])
    assert (e.status, e.code, e.details) == (416, "PGRST103", "Limit should be greater than or equal to zero.")
    for key, value in [("limit", "abc"), ("offset", "-1"), ("limit", "1.5"), ("offset", ""), ("limit", "9" * 30)]:
        e = err(query=[(key, value)])
        assert (e.status, e.code) == (400, "PGRST100"), (key, value)
        assert e.message == f'"failed to parse {key} parameter ({value})"'
    e = err("PUT", query=[("limit", "1")], body=b'{"id":1}')
    assert (e.status, e.code) == (400, "PGRST114")


def test_range_header():
    assert req(headers={"Range": "0-9", "Range-Unit": "items"}).ranges == {(): (0, 10)}
    assert req(headers={"Range": "10-"}).ranges == {(): (10, None)}
    assert req(headers={"Range": "0-9"}, query=[("limit", "3")]).ranges == {(): (0, 3)}
    # as in PostgREST, limit/offset make their own range, intersected with the header's
    assert err(headers={"Range": "5-9"}, query=[("limit", "3")]).code == "PGRST103"
    assert req(headers={"Range": "0-9"}, query=[("offset", "2"), ("limit", "100")]).ranges == {(): (2, 8)}
    assert req(headers={"Range": "0-9"}, query=[("limit", "0")]).ranges == {(): (0, 0)}
    assert req(headers={"Range": "junk"}).ranges == {}
    assert req("HEAD", headers={"Range": "0-1"}).ranges == {}  # PostgREST honours Range on GET only
    e = err(headers={"Range": "9-1"})
    assert (e.status, e.code) == (416, "PGRST103")
    assert "lower boundary" in e.details
    e = err(headers={"Range": "0-9"}, query=[("offset", "20")])
    assert (e.status, e.code) == (416, "PGRST103")


# -- columns, on_conflict -----------------------------------------------------------------------
def test_columns_and_on_conflict():
    r = req("POST", query=[("columns", '"b","a"'), ("on_conflict", "id, org")], body=b'[{"a":1,"b":2,"c":3}]')
    assert r.columns == ("b", "a") and r.on_conflict == ("id", "org")
    for key in ("columns", "on_conflict"):
        e = err("POST", query=[(key, "a,,b")], body=b"{}")
        assert e.code == "PGRST100" and key in e.message
        assert err("POST", query=[(key, "")], body=b"{}").code == "PGRST100"


# -- headers ------------------------------------------------------------------------------------
def test_preferences():
    p = req(headers={"Prefer": "return=representation, count=exact,resolution=merge-duplicates,missing=default,"
                                "tx=rollback,params=single-object,max-affected=5,timezone=UTC,handling=lenient"}
            ).preferences
    assert (p.returning, p.count, p.resolution, p.missing, p.tx, p.params, p.max_affected, p.timezone, p.handling) \
        == ("representation", "exact", "merge-duplicates", "default", "rollback", "single-object", 5, "UTC", "lenient")
    p = req(headers={"Prefer": "count=planned,count=exact,bogus=1"}).preferences
    assert p.count == "planned" and p.invalid == ("bogus=1",)
    assert req().preferences.returning is None
    e = err(headers={"Prefer": "handling=strict,bogus,return=minimal"})
    assert (e.status, e.code, e.message, e.details) == (
        400, "PGRST122", "Invalid preferences given with handling=strict", "Invalid preferences: bogus")
    assert err(headers={"Prefer": "handling=strict,max-affected=x"}).code == "PGRST122"


class MultiHeaders(dict):  # a case-insensitive multi-map such as starlette's Headers
    def getlist(self, name):
        return {"prefer": ["count=exact", "return=minimal"]}.get(name, [])


def test_repeated_prefer_headers():
    p = req(headers=MultiHeaders(prefer="count=exact")).preferences
    assert (p.count, p.returning) == ("exact", "minimal")


@pytest.mark.parametrize("accept,media", [
    (None, MediaType.JSON), ("application/json", MediaType.JSON), ("*/*", MediaType.JSON),
    ("application/vnd.pgrst.object+json", MediaType.OBJECT),
    ("application/vnd.pgrst.object+json;nulls=stripped", MediaType.OBJECT_STRIPPED),
    ("application/vnd.pgrst.array+json;nulls=stripped", MediaType.ARRAY_STRIPPED),
    ("application/vnd.pgrst.array+json", MediaType.JSON), ("text/csv", MediaType.CSV),
    ("application/geo+json", MediaType.GEOJSON), ("Application/JSON; charset=utf-8", MediaType.JSON),
    ("text/xml;q=0.9, text/csv;q=0.5, application/json;q=0.1", MediaType.CSV),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", MediaType.JSON),
])
def test_accept(accept, media):
    r = req(headers={"Accept": accept} if accept else {})
    assert r.accept is media
    assert r.single == (media in (MediaType.OBJECT, MediaType.OBJECT_STRIPPED))
    assert r.strip_nulls == (media in (MediaType.OBJECT_STRIPPED, MediaType.ARRAY_STRIPPED))


def test_accept_errors_and_rpc_types():
    e = err(headers={"Accept": "text/xml"})
    assert (e.status, e.code, e.message) == (406, "PGRST107", "None of these media types are available: text/xml")
    assert err(headers={"Accept": "application/json;q=0"}).code == "PGRST107"
    assert req("GET", "rpc/f", headers={"Accept": "text/plain"}).accept is MediaType.TEXT
    assert req("GET", "", headers={"Accept": "*/*"}).accept is MediaType.OPENAPI
    assert err("GET", "", headers={"Accept": "text/csv"}).code == "PGRST107"


def test_accept_plan():
    r = req(headers={"Accept": "application/vnd.pgrst.plan+json; for=\"text/csv\"; options=analyze|verbose"})
    assert r.accept is MediaType.PLAN_JSON
    assert r.explain == Explain("json", MediaType.CSV, ("analyze", "verbose"))
    r = req(headers={"Accept": "application/vnd.pgrst.plan"})
    assert r.explain == Explain("text", MediaType.JSON, ())


def test_profiles():
    assert req("GET", headers={"Accept-Profile": "api", "Content-Profile": "x"}).schema == "api"
    assert req("HEAD", headers={"Accept-Profile": "api"}).schema == "api"
    assert req("POST", headers={"Content-Profile": "x", "Accept-Profile": "api"}, body=b"{}").schema == "x"
    assert req("DELETE", headers={"Content-Profile": "x"}).schema == "x"
    assert req("GET").schema is None


# -- bodies -------------------------------------------------------------------------------------
def test_json_bodies():
    assert req("POST", body=b'{"a":1}').payload == {"a": 1}
    assert req("POST", body=b'[{"a":1},{"a":2}]').payload == [{"a": 1}, {"a": 2}]
    assert req("POST", body=b"[]").payload == []
    assert req("PATCH", body=b'{"a":null}').payload == {"a": None}
    assert req("DELETE", body=b"garbage").payload is None
    assert req("GET", body=b"garbage").payload is None
    assert req("POST", "rpc/f", body=b"").payload == {}
    assert req("POST", "rpc/f", body=b"[1,2]").payload == [1, 2]
    # with columns=, rows may differ in keys (the client sends the union of keys)
    assert req("POST", query=[("columns", "a,b")], body=b'[{"a":1},{"b":2}]').payload == [{"a": 1}, {"b": 2}]


@pytest.mark.parametrize("body,message", [
    (b"", "Empty or invalid json"), (b"{not json", "Empty or invalid json"), (b'"x"', "Empty or invalid json"),
    (b"\xff\xfe", "Empty or invalid json"), (b'[{"a":1},{"b":1}]', "All object keys must match"),
    (b'[{"a":1},2]', "All object keys must match"), (b"[1]", "All object keys must match"),
    (b"[" * 5000 + b"]" * 5000, "Empty or invalid json"),
])
def test_bad_json_bodies(body, message):
    e = err("POST", body=body)
    assert (e.status, e.code, e.message) == (400, "PGRST102", message)
    if message == "Empty or invalid json":
        assert e.details


def test_other_content_types():
    r = req("POST", headers={"Content-Type": "text/csv"}, body=b"a,b\n1,NULL\n3,x\n")
    assert r.content_type is MediaType.CSV and r.payload == [{"a": "1", "b": None}, {"a": "3", "b": "x"}]
    assert err("POST", headers={"Content-Type": "text/csv"}, body=b"a,b\n1\n").message == \
        "All lines must have same number of fields"
    r = req("POST", "rpc/f", headers={"Content-Type": "application/x-www-form-urlencoded"}, body=b"a=1&b=x+y")
    assert r.payload == {"a": "1", "b": "x y"}
    assert req("POST", "rpc/f", headers={"Content-Type": "text/plain"}, body=b"hi").payload == "hi"
    assert req("POST", "rpc/f", headers={"Content-Type": "application/octet-stream"}, body=b"\x00").payload == b"\x00"
    e = err("POST", headers={"Content-Type": "text/plain"}, body=b"hi")
    assert (e.status, e.code, e.message) == (400, "PGRST102", "Content-Type not acceptable: text/plain")
    assert err("POST", headers={"Content-Type": "image/png"}, body=b"x").message == \
        "Content-Type not acceptable: image/png"


# -- rpc arguments ------------------------------------------------------------------------------
def test_rpc_get_keeps_raw_args():
    r = req("GET", "rpc/f", query=[("a", "1"), ("select", "x"), ("b", "eq.2"), ("or", "(x.eq.1)"), ("limit", "2")])
    assert r.raw_args == (("a", "1"), ("b", "eq.2"))
    assert r.filters[()][0].operator == "or"
    assert r.ranges == {(): (0, 2)}
    assert parse_filter("b", "eq.2") == ((), Filter(F("b"), "eq", False, "2"))
    r = req("POST", "rpc/f", query=[("b", "eq.2")], body=b'{"a":1}')
    assert r.raw_args == () and r.filters[()] == (Filter(F("b"), "eq", False, "2"),)


# -- what supabase-py sends ---------------------------------------------------------------------
def test_client_select_filters_and_modifiers():
    b = (client.from_("countries").select("id, name, cities ( name )", count="exact")
         .eq("id", 1).neq("a", None).gt("b", 2).gte("c", 3).lt("d", 4).lte("e", 5)
         .like("f", "%x%").ilike("g", "A%").is_("h", None).is_("i", True)
         .in_("j", ["x", "a,b", 'q"uote', None]).contains("k", ["a", "b c"]).contains("l", {"x": 1})
         .contained_by("m", ["1"]).overlaps("n", [1, 2]).range_gt("o", (1, 5))
         .text_search("p", "cat & dog", options={"config": "english", "type": "web_search"})
         .like_any_of("q", "a*,b*").not_.eq("r", "x").or_("s.eq.1,t.gt.2").not_.or_("u.eq.1", reference_table="cities")
         .match({"v": "w"}).filter("x", "cs", "{1}")
         .order("name", desc=True, nullsfirst=True).order("name", foreign_table="cities")
         .limit(5, foreign_table="cities").range(10, 19))
    r = from_builder(b)
    assert r.action is Action.READ and r.preferences.count == "exact" and r.schema == "public"
    assert r.select[2] == Embed("cities", select=(SelectField(F("name")),))
    by = {f.field.name: f for f in r.filters[()] if isinstance(f, Filter)}
    assert by["a"].value == "null" and by["i"] == Filter(F("i"), "is", False, "true")
    assert by["j"].value == ("x", "a,b", 'q"uote', "null")
    assert by["k"].value == '{a,"b c"}' and by["l"].value == '{"x": 1}'
    assert by["o"].operator == "sr" and by["o"].value == "(1,5)"
    assert (by["p"].operator, by["p"].language, by["p"].value) == ("wfts", "english", "cat & dog")
    assert (by["q"].quantifier, by["q"].value) == ("any", "{a%,b%}")
    assert by["r"].negated and by["v"].value == "w"
    trees = [f for f in r.filters[()] if isinstance(f, LogicTree)]
    assert trees == [LogicTree("or", False, (Filter(F("s"), "eq", False, "1"), Filter(F("t"), "gt", False, "2")))]
    assert r.filters[("cities",)] == (LogicTree("or", True, (Filter(F("u"), "eq", False, "1"),)),)
    assert r.orders == {(): (OrderTerm(F("name"), None, True, True),),
                        ("cities",): (OrderTerm(F("name"), None, False, None),)}
    assert r.ranges == {(): (10, 10), ("cities",): (0, 5)}


def test_client_single_csv_explain_strip_nulls():
    assert from_builder(client.from_("t").select("*").eq("id", 1).single()).accept is MediaType.OBJECT
    assert from_builder(client.from_("t").select("*").maybe_single()).accept is MediaType.JSON
    assert from_builder(client.from_("t").select("*").csv()).accept is MediaType.CSV
    r = from_builder(client.from_("t").select("*").explain(analyze=True, verbose=True, format="json"))
    assert r.accept is MediaType.PLAN_JSON and r.explain.options == ("analyze", "verbose")
    assert from_builder(client.from_("t").select("*").explain()).explain == Explain("text", MediaType.JSON, ())
    # strip_nulls() rewrites Accept only inside send(): this is the header it sends
    assert req(headers={"Accept": "application/vnd.pgrst.array+json;nulls=stripped"}).strip_nulls


def test_client_mutations():
    r = from_builder(client.from_("t").insert([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}], count="exact"))
    assert r.action is Action.INSERT and set(r.columns) == {"a", "b"}
    assert (r.preferences.returning, r.preferences.count) == ("representation", "exact")
    assert r.payload == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    r = from_builder(client.from_("t").upsert({"id": 1}, on_conflict="id,org", ignore_duplicates=True,
                                              default_to_null=False))
    assert r.on_conflict == ("id", "org") and r.preferences.resolution == "ignore-duplicates"
    assert r.preferences.missing == "default"
    r = from_builder(client.from_("t").update({"a": 2}, returning="minimal").eq("id", 1))
    assert r.action is Action.UPDATE and r.preferences.returning == "minimal" and r.payload == {"a": 2}
    r = from_builder(client.from_("t").delete().in_("id", [1, 2]).max_affected(3))
    assert r.action is Action.DELETE and r.payload is None
    assert (r.preferences.max_affected, r.preferences.handling) == (3, "strict")
    r = from_builder(client.from_("t").update({"a": 1}).eq("id", 1).select("id"))
    assert r.select == (SelectField(F("id")),)


def test_client_rpc():
    r = from_builder(client.rpc("add_them", {"a": 1, "b": 2}))
    assert (r.action, r.method, r.payload) == (Action.CALL, "POST", {"a": 1, "b": 2})
    r = from_builder(client.rpc("f", {"a": [1, "x y"], "j": {"k": 1}}, get=True, count="exact").eq("id", 3))
    assert r.method == "GET" and r.preferences.count == "exact"
    assert r.raw_args == (("a", '{1,"x y"}'), ("j", '{"k":1}'), ("id", "eq.3"))
    r = from_builder(client.rpc("f", {}, head=True))
    assert r.method == "HEAD" and r.action is Action.CALL
    r = from_builder(client.rpc("f", {"a": 1}).select("x").single())
    assert r.accept is MediaType.OBJECT and r.preferences.returning == "representation"


def test_client_quoted_columns_in_filters():
    r = from_builder(client.from_("t").select("*").eq("a,b", 1).in_("c", ["(x)", "y:z"]))
    assert r.filters[()][0].field == F("a,b")
    assert r.filters[()][1].value == ("(x)", "y:z")


# -- properties ---------------------------------------------------------------------------------
ALPHABET = st.sampled_from(list('abcXY019_ $-.,:;()[]{}!*"\\\'>=%&|/\t\n\x00é😀'))
chunks = st.sampled_from(["->", "->>", "::", "...", "not.", "eq.", "in.(", "is.", "or(", "and(", "(any)", "!inner",
                          "count()", ".sum()", '"', "\\", "fts(english)", ".desc", ".nullsfirst", "cs.{"])
texts = st.lists(st.one_of(ALPHABET, chunks), max_size=25).map("".join) | st.text(max_size=20)
RESERVED = ["select", "order", "limit", "offset", "columns", "on_conflict", "or", "and", "not.or", "rel.order",
            "rel.limit", "rel.or", "a.b.offset", "data->>x", "rel.col"]
keys = st.one_of(st.sampled_from(RESERVED), texts)
header_names = st.sampled_from(["Prefer", "Accept", "Range", "Content-Type", "Accept-Profile", "Content-Profile"])


@settings(max_examples=400, deadline=None)
@given(method=st.sampled_from(["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS", "BREW"]),
       path=st.sampled_from(["t", "rpc/f", "", "a/b", "rpc"]) | texts,
       query=st.lists(st.tuples(keys, texts), max_size=5),
       headers=st.dictionaries(header_names, texts, max_size=4),
       body=st.binary(max_size=30) | texts.map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_never_raises_anything_but_api_errors(method, path, query, headers, body):
    try:
        r = parse_request(method, path, query, headers, body)
    except ApiRequestError as e:
        assert 400 <= e.status < 500 and e.code.startswith("PGRST") and e.message
        assert set(e.to_json()) == {"code", "details", "hint", "message"}
    else:
        for path_, conds in r.filters.items():
            assert isinstance(path_, tuple) and all(isinstance(c, (Filter, LogicTree)) for c in conds)
        for key, value in r.raw_args:
            try:
                parse_filter(key, value)
            except ApiRequestError:
                pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=8), min_size=1, max_size=5))
def test_in_list_round_trip_through_client_quoting(values):
    text = "in.(" + ",".join(sanitize_param(v) for v in values) + ")"
    assume_unambiguous = all(v.strip() == v or any(c in v for c in ',:()"\\') for v in values)
    value = parse_filter("c", text)[1].value
    if values == [""]:
        assert value == ()
    elif assume_unambiguous:
        assert value == tuple(values)


def _quote(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "data->>k"]), st.sampled_from(["eq", "like", "neq"]),
                          st.text(max_size=8)), min_size=1, max_size=4),
       st.sampled_from(["and", "or"]), st.booleans())
def test_logic_tree_round_trip(conds, op, negated):
    value = "(" + ",".join(f"{f}.{o}.{_quote(v)}" for f, o, v in conds) + ")"
    path, tree = parse_logic_tree(("not." if negated else "") + op, value)
    assert path == () and tree.operator == op and tree.negated == negated
    for child, (_f, o, v) in zip(tree.children, conds, strict=True):
        assert child.operator == o
        assert child.value == (v.replace("*", "%") if o == "like" else v)


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.sampled_from(["a.eq.1", 'b.in.("x,y",z)', "c.is.null"]),
                    lambda kids: st.tuples(st.sampled_from(["and", "or", "not.and"]), st.lists(kids, min_size=1,
                                                                                              max_size=3))
                    .map(lambda t: f"{t[0]}({','.join(t[1])})"), max_leaves=12))
def test_nested_logic_trees_parse(tree_text):
    parse_logic_tree("and", f"({tree_text})")


def test_body_sizes_are_fast():
    rows = orjson.dumps([{"a": i, "b": "x" * 10} for i in range(5000)])
    assert len(req("POST", body=rows).payload) == 5000


@settings(max_examples=500)
@given(st.text(alphabet=st.sampled_from("ab=&.,*()%+é~-_ 2F"), max_size=30))
def test_query_pairs_split_as_parse_qsl(text):
    """query_pairs' shortcut for a query with nothing to decode splits exactly as parse_qsl."""
    raw = text.encode("utf-8")
    try:
        expected = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        with pytest.raises(RestError):
            query_pairs(raw)
        return
    assert query_pairs(raw) == expected
