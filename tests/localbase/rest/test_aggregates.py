"""Aggregates in `select` (count(), col.sum() ...), enabled as PostgREST enables them: by the connecting
role's in-database setting `pgrst.db_aggregates_enabled`; and spreads of to-many relationships."""

from __future__ import annotations

import pytest
from postgrest.exceptions import APIError


def _counts(client) -> bool:
    try:
        client.table("countries").select("count()").execute()
        return True
    except APIError as err:
        if err.code != "PGRST123":
            raise
        return False


@pytest.fixture
def aggregates(pgrst_setting, supabase_anon):
    pgrst_setting("db_aggregates_enabled", "true", lambda: _counts(supabase_anon))
    return supabase_anon


def test_aggregates_follow_the_in_database_setting(pgrst_setting, supabase_anon):
    with pytest.raises(APIError) as err:
        supabase_anon.table("countries").select("count()").execute()
    assert err.value.code == "PGRST123"
    pgrst_setting("db_aggregates_enabled", "true", lambda: _counts(supabase_anon))
    assert supabase_anon.table("countries").select("count()").execute().data == [{"count": 5}]


def test_aggregates_group_by_the_other_columns(aggregates):
    res = aggregates.table("countries").select("continent, count()").order("continent").execute()
    assert res.data == [{"continent": "Africa", "count": 1}, {"continent": "Asia", "count": 1},
                        {"continent": "Europe", "count": 2}, {"continent": "South America", "count": 1}]
    res = aggregates.table("cities").select("total:population.sum(), population.max(), n:id.count()") \
        .eq("country_id", 1).execute()
    assert res.data == [{"total": 2620000, "max": 2100000, "n": 3}]
    res = aggregates.table("cities").select("population.avg()::int").eq("country_id", 3).execute()
    assert res.data == [{"avg": 8350000}]
    assert aggregates.table("cities").select("count()").eq("name", "nowhere").execute().data == [{"count": 0}]


def test_aggregates_in_embeds_and_function_results(aggregates):
    res = aggregates.table("countries").select("name, cities(count(), population.sum())").eq("code", "FR") \
        .execute()
    assert res.data == [{"name": "France", "cities": [{"count": 3, "sum": 2620000}]}]
    res = aggregates.rpc("cities_named", {"pattern": "%"}).select("country_id, count()").eq("country_id", 3) \
        .execute()
    assert res.data == [{"country_id": 3, "count": 2}]
    with pytest.raises(APIError) as err:
        aggregates.table("countries").select("name, cities(nope.sum())").execute()
    assert (err.value.code, err.value.message) == ("42703", "column cities_1.nope does not exist")


def test_spread_of_a_to_many_relationship_gives_arrays(supabase_anon):
    res = supabase_anon.table("countries").select("name, ...cities(city:name, population)").eq("code", "DE") \
        .execute()
    assert res.data == [{"name": "Germany", "city": ["Berlin"], "population": [3600000]}]
    res = supabase_anon.table("countries").select("name, ...cities(city:name)").eq("code", "BR").execute()
    assert res.data == [{"name": "Brazil", "city": []}]
