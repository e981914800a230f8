"""The plan stage (rest/plan.py Planner) on a schema cache built in memory: every identifier checked
against the cache, PostgREST's errors for what the cache lacks, and the plans it builds."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from localbase.rest import plan as plan_stage
from localbase.rest.db_config import ApiConfig
from localbase.rest.errors import RestError
from localbase.rest.parse import parse_request
from localbase.rest.plan import NOT_RAW, CallPlan, EmbedNode, Planner, SelectCol
from localbase.rest.schema_cache import Column, ForeignKey, Function, Schema, Table


def col(name: str, type_: str = "text", position: int = 1) -> Column:
    return Column(name, type_, 25, True, None, False, position)


def table(name: str, *columns: str, pk: tuple[str, ...] = ("id",), kind: str = "r", writable: bool = True) -> Table:
    cols = {c: col(c, position=i) for i, c in enumerate(("id", *columns), 1)}
    return Table("public", name, kind, cols, pk, (), writable, writable, writable, read_columns=dict(cols))


def schema(aggregates: bool = False) -> Schema:
    countries = table("countries", "name")
    cities = table("cities", "name", "country_id")
    fk = ForeignKey("cities_country_id_fkey", "public", "cities", ("country_id",), "public", "countries", ("id",))
    cities.foreign_keys.append(fk)
    countries.referenced_by.append(fk)
    tables = {("public", t.name): t for t in (countries, cities, table("notes", "body", pk=()),
                                              table("report", "total", kind="v", writable=False))}
    return Schema(tables, {}, {}, ("public", "api"), ApiConfig(aggregates_enabled=aggregates))


def request(method: str, target: str, query: str = "", body: bytes = b"", **headers: str):
    return parse_request(method, target, parse_qsl(query, keep_blank_values=True), headers, body)


def refused(call) -> RestError:
    with pytest.raises(RestError) as info:
        call()
    return info.value


@pytest.fixture
def planner() -> Planner:
    return Planner(schema(), 1000)


def test_a_read_plan_names_the_table_its_columns_and_its_embed(planner):
    plan = planner.read(request("GET", "cities", "select=name,countries(name)&name=eq.Lyon&order=name"))
    assert (plan.table.schema, plan.table.name) == ("public", "cities")
    assert [item.out if isinstance(item, SelectCol) else item.name for item in plan.root.select] == \
        ["name", "countries"]
    embed = plan.root.select[1]
    assert isinstance(embed, EmbedNode) and embed.rel.to_one
    assert plan.root.filters and plan.root.order


@pytest.mark.parametrize(("method", "target", "query", "code", "status"), [
    ("GET", "towns", "", "PGRST205", 404),                      # not in the cache
    ("GET", "cities", "select=nope", "42703", 400),             # no such column
    ("GET", "cities", "nope=eq.1", "42703", 400),               # nor in a filter
    ("GET", "cities", "select=name,mayors(name)", "PGRST200", 400),   # no relationship
    ("GET", "cities", "countries.name=eq.x", "PGRST108", 400),  # a filter on an embed not selected
    ("GET", "cities", "select=name.count()", "PGRST123", 400),  # aggregates off by default
    ("GET", "cities", "select=name::nosuchtype", "PGRST100", 400),
])
def test_what_the_cache_lacks_is_refused_as_postgrest_does(planner, method, target, query, code, status):
    err = refused(lambda: planner.read(request(method, target, query)))
    assert (err.code, err.status) == (code, status)


def test_a_schema_not_exposed_is_refused_with_the_exposed_ones(planner):
    err = refused(lambda: planner.read(request("GET", "cities", **{"accept-profile": "private"})))
    assert (err.code, err.status, err.hint) == ("PGRST106", 406, "Only the following schemas are exposed: public, api")


def test_aggregates_plan_when_enabled():
    plan = Planner(schema(aggregates=True), 1000).read(request("GET", "cities", "select=name.count()"))
    assert plan.root.select


@pytest.mark.parametrize(("method", "target", "query", "body", "kind", "code", "status"), [
    ("POST", "report", "", b'{"total": 1}', "insert", "PGRST120", 405),      # a view that takes no insert
    ("POST", "notes", "", b'{"body": "x"}', "upsert", "PGRST124", 400),      # no key to upsert on
    ("POST", "cities", "", b'{"mayor": "x"}', "insert", "PGRST204", 400),    # no such column
    ("PUT", "cities", "name=eq.x", b'{"id": 1, "name": "x"}', "upsert", "PGRST105", 405),  # not the key
    ("PUT", "cities", "id=eq.1", b'{"id": 2, "name": "x"}', "upsert", "PGRST115", 400),  # key differs
])
def test_mutations_are_checked_against_the_cache(planner, method, target, query, body, kind, code, status):
    req = request(method, target, query, body, **{"content-type": "application/json"})
    err = refused(lambda: planner.mutate(req, kind))
    assert (err.code, err.status) == (code, status)


def test_an_insert_plan_takes_the_payload_columns(planner):
    rows = b'[{"name": "a", "country_id": "1"}, {"country_id": "2", "name": "b"}]'
    req = request("POST", "cities", "select=id", rows, **{"content-type": "application/json"})
    plan = planner.mutate(req, "insert")
    assert (plan.kind, plan.columns) == ("insert", ("name", "country_id"))


def test_an_upsert_conflicts_on_the_primary_key_unless_told(planner):
    req = request("POST", "cities", "", b'{"id": 1, "name": "a"}', **{"content-type": "application/json"})
    assert planner.mutate(req, "upsert").on_conflict == ("id",)
    req = request("POST", "cities", "on_conflict=name", b'{"id": 1, "name": "a"}',
                  **{"content-type": "application/json"})
    assert planner.mutate(req, "upsert").on_conflict == ("name",)


# -- what the request may ask: plan.producible, mutation_kind, check_call ------------------------
def test_geojson_needs_postgis_and_plans_need_plan_enabled():
    s = schema()
    err = refused(lambda: plan_stage.producible(request("GET", "cities", accept="application/geo+json"), s,
                                                "application/geo+json"))
    assert (err.code, err.status) == ("PGRST107", 406)
    explain = request("GET", "cities", accept="application/vnd.pgrst.plan+json")
    assert refused(lambda: plan_stage.producible(explain, s, "application/vnd.pgrst.plan+json")).code == "PGRST107"
    s.config = ApiConfig(plan_enabled=True)
    assert plan_stage.producible(explain, s, "application/vnd.pgrst.plan+json").explain is not None


@pytest.mark.parametrize(("method", "prefer", "kind"), [
    ("POST", "", "insert"), ("POST", "resolution=merge-duplicates", "upsert"), ("PATCH", "", "update"),
    ("DELETE", "", "delete"), ("PUT", "", "upsert")])
def test_the_mutation_kind(method, prefer, kind):
    headers = {"content-type": "application/json", "prefer": prefer}
    query = "id=eq.1" if method == "PUT" else ""
    assert plan_stage.mutation_kind(request(method, "cities", query, b'{"id": 1}', **headers)) == kind


def test_a_call_refuses_csv_without_rows_and_max_affected_without_a_set():
    fn = Function("public", "f", 0, (), "integer", 23, False, None, False, False, "i")
    scalar = CallPlan(fn, {}, NOT_RAW, None, True)
    csv = request("POST", "rpc/f", "", b"{}", accept="text/csv", **{"content-type": "application/json"})
    assert refused(lambda: plan_stage.check_call(scalar, csv, "text/csv")).code == "PGRST107"
    strict = request("POST", "rpc/f", "", b"{}", prefer="handling=strict, max-affected=1",
                     **{"content-type": "application/json"})
    assert refused(lambda: plan_stage.check_call(scalar, strict, "")).code == "PGRST128"
    plan_stage.check_call(scalar, request("POST", "rpc/f", "", b"{}", **{"content-type": "application/json"}), "")
