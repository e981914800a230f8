"""Reads through the official supabase-py client: select, filters, order, ranges, counts, embedding."""

from __future__ import annotations

import pytest
from postgrest.exceptions import APIError


def names(rows):
    return [r["name"] for r in rows]


def test_select_all_columns(supabase_anon):
    res = supabase_anon.table("countries").select("*").order("id").execute()
    assert names(res.data) == ["France", "Germany", "Japan", "Brazil", "Kenya"]
    assert set(res.data[0]) == {"id", "name", "code", "continent"}


def test_select_columns_alias_cast_and_json_paths(supabase_anon):
    res = supabase_anon.table("cities").select(
        "city:name, population::text, mayor:data->mayor->>name, rank:data->rank").eq("name", "Paris").execute()
    assert res.data == [{"city": "Paris", "population": "2100000", "mayor": "Anne", "rank": 1}]


@pytest.mark.parametrize("build, expected", [
    (lambda q: q.eq("continent", "Europe"), ["France", "Germany"]),
    (lambda q: q.neq("continent", "Europe"), ["Japan", "Brazil", "Kenya"]),
    (lambda q: q.gt("id", 3), ["Brazil", "Kenya"]),
    (lambda q: q.gte("id", 4), ["Brazil", "Kenya"]),
    (lambda q: q.lt("id", 2), ["France"]),
    (lambda q: q.lte("id", 2), ["France", "Germany"]),
    (lambda q: q.like("name", "%an%"), ["France", "Germany", "Japan"]),
    (lambda q: q.ilike("name", "f%"), ["France"]),
    (lambda q: q.in_("code", ["FR", "JP"]), ["France", "Japan"]),
    (lambda q: q.is_("continent", "null"), []),
    (lambda q: q.not_.is_("continent", "null"), ["France", "Germany", "Japan", "Brazil", "Kenya"]),
    (lambda q: q.not_.in_("id", [1, 2, 3]), ["Brazil", "Kenya"]),
    (lambda q: q.or_("code.eq.KE,and(continent.eq.Europe,name.like.G*)"), ["Germany", "Kenya"]),
    (lambda q: q.match({"continent": "Europe", "code": "DE"}), ["Germany"]),
    (lambda q: q.filter("name", "imatch", "^(ja|ke)"), ["Japan", "Kenya"]),
])
def test_filters(supabase_anon, build, expected):
    res = build(supabase_anon.table("countries").select("name")).order("id").execute()
    assert names(res.data) == expected


def test_array_json_and_range_operators(supabase_anon):
    cities = supabase_anon.table("cities").select("name")
    assert names(cities.contains("tags", ["capital", "coastal"]).execute().data) == ["Tokyo"]
    def cities():
        return supabase_anon.table("cities").select("name")

    assert sorted(names(cities().contained_by("tags", ["coastal"]).execute().data)) == ["Osaka", "Toulouse"]
    assert sorted(names(cities().overlaps("tags", ["coastal"]).execute().data)) == ["Osaka", "Tokyo"]
    assert names(cities().contains("data", {"mayor": {"name": "Anne"}}).execute().data) == ["Paris"]
    assert names(supabase_anon.table("cities").select("name").eq("data->>rank", "2").execute().data) == ["Berlin"]
    rooms = supabase_anon.table("reservations").select("room")
    assert [r["room"] for r in rooms.overlaps("during", "[3,6)").order("room").execute().data] == ["A", "B"]
    def rooms_where():
        return supabase_anon.table("reservations").select("room")

    assert [r["room"] for r in rooms_where().range_lt("during", (10, 15)).order("room").execute().data] == ["A", "B"]
    assert [r["room"] for r in rooms_where().range_adjacent("during", (9, 20)).order("room").execute().data] \
        == ["B", "C"]


def test_full_text_search(supabase_anon):
    def arts():
        return supabase_anon.table("articles").select("title")

    assert [r["title"] for r in arts().text_search("fts", "fox & dog").execute().data] == ["Cats and dogs"]
    def titles(column, query, **options):
        return [r["title"] for r in arts().text_search(column, query, options=options).execute().data]

    assert titles("fts", "powerful database", type="plain", config="english") == ["Databases"]
    assert titles("fts", "slow cooked", type="phrase") == ["Cooking"]
    assert titles("body", "beans -dogs", type="web_search", config="english") == ["Cooking"]


def test_order_limit_offset_range(supabase_anon):
    def q():
        return supabase_anon.table("cities").select("name, population")

    # PostgreSQL's defaults: NULLs sort last ascending and first descending
    assert names(q().order("population", desc=True).limit(2).execute().data) == ["Toulouse", "Tokyo"]
    assert names(q().order("population", desc=True, nullsfirst=False).limit(2).execute().data) == ["Tokyo", "Nairobi"]
    assert names(q().order("population").limit(1).offset(5).execute().data) == ["Tokyo"]
    assert names(q().order("population").limit(2).offset(1).execute().data) == ["Paris", "Osaka"]
    assert names(q().order("population").range(1, 2).execute().data) == ["Paris", "Osaka"]
    assert names(q().order("population").range(0, 1).execute().data) == ["Lyon", "Paris"]
    assert names(q().order("country_id").order("name", desc=True).limit(3).execute().data) \
        == ["Toulouse", "Paris", "Lyon"]


def test_counts_and_content_range(supabase_anon):
    res = supabase_anon.table("cities").select("name", count="exact").order("id").limit(2).execute()
    assert res.count == 7 and len(res.data) == 2
    res = supabase_anon.table("cities").select("name", count="planned").limit(1).execute()
    assert isinstance(res.count, int) and res.count >= 1
    res = supabase_anon.table("cities").select("name", count="estimated").limit(1).execute()
    assert res.count == 7
    res = supabase_anon.table("cities").select("*", count="exact", head=True).eq("country_id", 1).execute()
    assert res.count == 3 and res.data == []


def test_single_and_maybe_single(supabase_anon):
    one = supabase_anon.table("countries").select("name").eq("code", "JP").single().execute()
    assert one.data == {"name": "Japan"}
    with pytest.raises(APIError) as err:
        supabase_anon.table("countries").select("name").eq("continent", "Europe").single().execute()
    assert err.value.code == "PGRST116"
    with pytest.raises(APIError) as err:
        supabase_anon.table("countries").select("name").eq("code", "XX").single().execute()
    assert err.value.code == "PGRST116"
    assert supabase_anon.table("countries").select("name").eq("code", "XX").maybe_single().execute() is None
    kenya = supabase_anon.table("countries").select("name").eq("code", "KE").maybe_single().execute()
    assert kenya.data == {"name": "Kenya"}


def test_embed_many_to_one_and_one_to_many(supabase_anon):
    res = supabase_anon.table("cities").select("name, countries(name, code)").eq("name", "Lyon").execute()
    assert res.data == [{"name": "Lyon", "countries": {"name": "France", "code": "FR"}}]
    res = supabase_anon.table("countries").select("name, cities(name)").eq("code", "FR") \
        .order("name", foreign_table="cities").execute()
    assert res.data == [{"name": "France", "cities": [{"name": "Lyon"}, {"name": "Paris"}, {"name": "Toulouse"}]}]
    res = supabase_anon.table("countries").select("name, cities(name)").eq("code", "BR").execute()
    assert res.data == [{"name": "Brazil", "cities": []}]


def test_legacy_count_of_embedded_rows(supabase_anon):
    # `rel(count)` (no parentheses): still supported by PostgREST, and not refused as an aggregate
    res = supabase_anon.table("countries").select("name, cities(count)").in_("code", ["FR", "BR"]) \
        .order("name").execute()
    assert res.data == [{"name": "Brazil", "cities": [{"count": 0}]}, {"name": "France", "cities": [{"count": 3}]}]
    res = supabase_anon.table("countries").select("name, cities(count)").eq("code", "FR") \
        .gt("cities.population", 1000000).execute()
    assert res.data == [{"name": "France", "cities": [{"count": 1}]}]
    assert supabase_anon.table("countries").select("count").eq("continent", "Europe").execute().data == [{"count": 2}]


def test_embed_filters_order_limit_and_inner(supabase_anon):
    res = supabase_anon.table("countries").select("name, cities(name, population)") \
        .order("id").gt("cities.population", 3000000).order("population", desc=True, foreign_table="cities") \
        .limit(1, foreign_table="cities").execute()
    assert res.data[:3] == [{"name": "France", "cities": []},
                           {"name": "Germany", "cities": [{"name": "Berlin", "population": 3600000}]},
                           {"name": "Japan", "cities": [{"name": "Tokyo", "population": 14000000}]}]
    res = supabase_anon.table("countries").select("name, cities!inner(name)").eq("cities.name", "Osaka").execute()
    assert res.data == [{"name": "Japan", "cities": [{"name": "Osaka"}]}]


def test_embedding_through_a_view(supabase_anon):
    """`big_cities` (a view of `cities`) keeps the foreign key of its country_id, both ways; the
    tables' own embeds are unchanged (no new ambiguity)."""
    got = supabase_anon.table("big_cities").select("name, countries(code)").eq("name", "Osaka").execute().data
    assert got == [{"name": "Osaka", "countries": {"code": "JP"}}]
    by_column = supabase_anon.table("big_cities").select("name, country_id(code)").eq("name", "Berlin").execute().data
    assert by_column == [{"name": "Berlin", "country_id": {"code": "DE"}}]
    back = supabase_anon.table("countries").select("code, big_cities(name)").eq("code", "FR") \
        .order("name", foreign_table="big_cities").execute().data
    assert back == [{"code": "FR", "big_cities": [{"name": "Paris"}]}]  # Lyon and Toulouse are not big
    inner = supabase_anon.table("countries").select("code, big_cities!inner(name)").eq("big_cities.name", "Tokyo") \
        .execute().data
    assert inner == [{"code": "JP", "big_cities": [{"name": "Tokyo"}]}]
    assert supabase_anon.table("capitals").select("city_id(name)").eq("country_id", 1).execute().data == \
        [{"city_id": {"name": "Paris"}}]


def test_computed_relationships(supabase_anon):
    """`big_cities_of(countries) returns setof cities` embeds to-many, `capital_city(countries)
    returns cities` to-one; filters and order apply inside the embed."""
    got = supabase_anon.table("countries").select("code, big_cities_of(name)").eq("code", "JP") \
        .order("name", foreign_table="big_cities_of").execute().data
    assert got == [{"code": "JP", "big_cities_of": [{"name": "Osaka"}, {"name": "Tokyo"}]}]
    capitals = supabase_anon.table("countries").select("code, capital_city(name)").in_("code", ["FR", "BR"]) \
        .order("code").execute().data
    assert capitals == [{"code": "BR", "capital_city": None}, {"code": "FR", "capital_city": {"name": "Paris"}}]
    inner = supabase_anon.table("countries").select("code, big_cities_of!inner(name)") \
        .eq("big_cities_of.name", "Nairobi").execute().data
    assert inner == [{"code": "KE", "big_cities_of": [{"name": "Nairobi"}]}]


def test_computed_fields(supabase_anon):
    """`label(countries)` reads as a column: selected, filtered, ordered, embedded; never in `*`."""
    got = supabase_anon.table("countries").select("name, label").eq("label", "France (FR)").execute().data
    assert got == [{"name": "France", "label": "France (FR)"}]
    ordered = supabase_anon.table("countries").select("label").order("label", desc=True).limit(2).execute().data
    assert ordered == [{"label": "Kenya (KE)"}, {"label": "Japan (JP)"}]
    star = supabase_anon.table("countries").select("*").eq("code", "FR").execute().data[0]
    assert "label" not in star
    embedded = supabase_anon.table("cities").select("name, countries(label)").eq("name", "Osaka").execute().data
    assert embedded == [{"name": "Osaka", "countries": {"label": "Japan (JP)"}}]
    aliased = supabase_anon.table("countries").select("tag:label").like("label", "*(DE)").execute().data
    assert aliased == [{"tag": "Germany (DE)"}]


def test_null_filters_on_embedded_resources(supabase_anon, localbase_server):
    """`cities=not.is.null` keeps the parents with related rows (as !inner), `cities=is.null` those
    without; combined with a filter on the embed, `not.is.null` keeps the parents it matched."""
    with_cities = supabase_anon.table("countries").select("name, cities(name)").not_.is_("cities", "null") \
        .order("name").execute().data
    assert [c["name"] for c in with_cities] == ["France", "Germany", "Japan", "Kenya"]
    without = supabase_anon.table("countries").select("name, cities(name)").is_("cities", "null").execute().data
    assert without == [{"name": "Brazil", "cities": []}]
    big = supabase_anon.table("countries").select("name, cities(name)").gt("cities.population", 3_000_000) \
        .not_.is_("cities", "null").order("name").execute().data
    assert big == [{"name": "Germany", "cities": [{"name": "Berlin"}]},
                   {"name": "Japan", "cities": [{"name": "Tokyo"}]},
                   {"name": "Kenya", "cities": [{"name": "Nairobi"}]}]
    counted = supabase_anon.table("countries").select("name, cities(name)", count="exact").is_("cities", "null") \
        .execute()
    assert counted.count == 1
    # to-one: cities whose country embed is missing (none here), and a column of that name still wins
    assert supabase_anon.table("cities").select("name, countries(name)").is_("countries", "null").execute().data == []
    assert len(supabase_anon.table("cities").select("name, population").is_("population", "null").execute().data) == 1


def test_embed_many_to_many_one_to_one_and_hints(supabase_anon):
    res = supabase_anon.table("films").select("title, actors(name)").eq("year", 1999) \
        .order("name", foreign_table="actors").execute()
    assert res.data == [{"title": "The Matrix",
                         "actors": [{"name": "Carrie-Anne"}, {"name": "Keanu"}, {"name": "Laurence"}]}]
    res = supabase_anon.table("capitals").select("countries(name), cities(name)").eq("country_id", 2).execute()
    assert res.data == [{"countries": {"name": "Germany"}, "cities": {"name": "Berlin"}}]
    with pytest.raises(APIError) as err:
        supabase_anon.table("messages").select("body, people(name)").execute()
    assert err.value.code == "PGRST201"
    res = supabase_anon.table("messages") \
        .select("body, sender:people!sender_id(name), receiver:people!receiver_id(name)").eq("id", 1).execute()
    assert res.data == [{"body": "hi Bob", "sender": {"name": "Ann"}, "receiver": {"name": "Bob"}}]
    res = supabase_anon.table("messages").select("body, sender_id(name)").eq("id", 2).execute()
    assert res.data == [{"body": "hi Ann", "sender_id": {"name": "Bob"}}]


def test_views_and_other_schemas(supabase_anon):
    assert sorted(names(supabase_anon.table("big_cities").select("name").execute().data)) == \
        ["Berlin", "Nairobi", "Osaka", "Paris", "Tokyo"]
    parts = supabase_anon.schema("inventory").table("parts").select("name, stock").order("id").execute()
    assert parts.data == [{"name": "bolt", "stock": 100}, {"name": "nut", "stock": 0}]
    with pytest.raises(APIError) as err:
        supabase_anon.schema("hidden").table("vault").select("*").execute()
    assert err.value.code == "PGRST106"


def test_unknown_table_and_column(supabase_anon):
    with pytest.raises(APIError) as err:
        supabase_anon.table("nope").select("*").execute()
    assert err.value.code == "PGRST205"
    with pytest.raises(APIError) as err:
        supabase_anon.table("countries").select("nope").execute()
    assert err.value.code == "42703"
    with pytest.raises(APIError) as err:
        supabase_anon.table("countries").select("*").eq("nope", 1).execute()
    assert err.value.code == "42703"
    with pytest.raises(APIError) as err:
        supabase_anon.table("countries").select("*, nope(*)").execute()
    assert err.value.code == "PGRST200"
    with pytest.raises(APIError) as err:
        supabase_anon.table("countries").select("*").eq("id", "not-a-number").execute()
    assert err.value.code == "22P02"


def test_spread_and_order_by_a_to_one_embed(supabase_anon):
    res = supabase_anon.table("cities").select("name, ...countries(country:name, code)").eq("name", "Osaka").execute()
    assert res.data == [{"name": "Osaka", "country": "Japan", "code": "JP"}]
    res = supabase_anon.table("cities").select("name, countries(name)").in_("name", ["Paris", "Berlin", "Tokyo"]) \
        .order("countries(name)", desc=True).execute()
    assert [r["name"] for r in res.data] == ["Tokyo", "Berlin", "Paris"]


def test_single_object_rpc_argument(localbase_server):
    import httpx
    r = httpx.post(f"{localbase_server.url}/rest/v1/rpc/echo", json={"any": ["shape"]},
                   headers={"apikey": localbase_server.anon_key, "Prefer": "params=single-object"})
    assert r.status_code == 200 and r.json() == {"any": ["shape"]}


# -- relationships as PostgREST's findRel picks them (issue 13: the postgrest-js suite) -----------
def test_self_referencing_embeds_children_by_table_parent_by_column(supabase_anon):
    res = supabase_anon.table("folders").select("name, folders(name)").eq("id", 1).single().execute()
    assert res.data == {"name": "root", "folders": [{"name": "docs"}, {"name": "music"}]}
    res = supabase_anon.table("folders").select("name, parent_id(name)").eq("id", 4).single().execute()
    assert res.data == {"name": "letters", "parent_id": {"name": "docs"}}
    res = supabase_anon.table("folders").select("name, subfolders:folders!parent_id(name)").eq("id", 2) \
        .single().execute()
    assert res.data == {"name": "docs", "subfolders": [{"name": "letters"}]}
    with pytest.raises(APIError) as err:  # a constraint name as hint does not disambiguate a self-reference
        supabase_anon.table("folders").select("name, folders!folders_parent_fk(name)").execute()
    assert (err.value.code, err.value.message, err.value.details, err.value.hint) == (
        "PGRST200", "Could not find a relationship between 'folders' and 'folders' in the schema cache",
        "Searched for a foreign key relationship between 'folders' and 'folders' using the hint "
        "'folders_parent_fk' in the schema 'public', but no matches were found.", None)


def test_a_foreign_keys_constraint_name_embeds(supabase_anon):
    res = supabase_anon.table("people").select("name, sent:messages_sender_id_fkey(body)").eq("id", 1) \
        .single().execute()
    assert res.data == {"name": "Ann", "sent": [{"body": "hi Bob"}, {"body": "hey Cid"}]}


def test_an_empty_embed_filters_and_is_left_out(supabase_anon):
    res = supabase_anon.table("countries").select("name, cities!inner()").eq("cities.name", "Lyon").execute()
    assert res.data == [{"name": "France"}]


def test_ambiguous_embeds_are_described_as_postgrest_describes_them(supabase_anon):
    with pytest.raises(APIError) as err:
        supabase_anon.table("people").select("name, messages(body)").execute()
    assert err.value.code == "PGRST201"
    assert err.value.message == \
        "Could not embed because more than one relationship was found for 'people' and 'messages'"
    assert err.value.details == [
        {"cardinality": "one-to-many", "embedding": "people with messages",
         "relationship": "messages_receiver_id_fkey using people(id) and messages(receiver_id)"},
        {"cardinality": "one-to-many", "embedding": "people with messages",
         "relationship": "messages_sender_id_fkey using people(id) and messages(sender_id)"}]
    assert err.value.hint == ("Try changing 'messages' to one of the following: 'messages!messages_receiver_id_fkey', "
                              "'messages!messages_sender_id_fkey'. Find the desired relationship in the 'details' key.")
    with pytest.raises(APIError) as err:
        supabase_anon.table("countries").select("name, citys(name)").execute()
    assert (err.value.code, err.value.hint) == ("PGRST200", "Perhaps you meant 'cities' instead of 'citys'.")
