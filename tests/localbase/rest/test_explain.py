"""EXPLAIN plans (`.explain()`), off by default as on Supabase; on with PostgREST's db-plan-enabled
(here the in-database `pgrst.db_plan_enabled`). The plan is the request's own statement, run as the
caller's role (RLS applies to analyze), in a transaction that never commits."""

from __future__ import annotations

import httpx
import pytest
from postgrest.exceptions import APIError

from tests.localbase.helpers import sql

PLAN_JSON = "application/vnd.pgrst.plan+json"


def _plans(server) -> bool:
    r = httpx.get(f"{server.url}/rest/v1/countries", headers={"apikey": server.anon_key, "Accept": PLAN_JSON})
    return r.status_code == 200


@pytest.fixture
def plans(pgrst_setting, localbase_server):
    pgrst_setting("db_plan_enabled", "true", lambda: _plans(localbase_server))


def test_plans_are_refused_unless_enabled(supabase_anon):
    with pytest.raises(APIError) as err:
        supabase_anon.table("countries").select("name").explain(format="json").execute()
    assert err.value.code == "PGRST107"


def test_json_and_text_plans_of_a_read(plans, supabase_anon, localbase_server):
    res = supabase_anon.table("countries").select("name").eq("code", "FR").explain(format="json").execute()
    assert "Plan" in res.data[0] and res.data[0]["Plan"]["Node Type"] == "Aggregate"
    text = supabase_anon.table("countries").select("name").explain().execute()
    assert "Aggregate  (cost=" in text  # supabase-py gives the text plan as it came
    r = httpx.get(f"{localbase_server.url}/rest/v1/countries?select=name", headers={
        "apikey": localbase_server.anon_key, "Accept": f'{PLAN_JSON}; for="application/json"; options=analyze|verbose'})
    assert r.headers["content-type"] == \
        'application/vnd.pgrst.plan+json; for="application/json"; options=analyze|verbose; charset=utf-8'
    assert r.json()[0]["Plan"]["Actual Rows"] == 1 and "Output" in r.json()[0]["Plan"]


def test_analyze_runs_as_the_caller_and_never_commits(plans, supabase_anon, localbase_server, make_user):
    from tests.localbase.helpers import client_for
    uid, token = make_user()
    sql(localbase_server, "insert into notes (owner_id, body) values ($1::uuid, 'mine')", uid)
    # RLS: anon sees none of the notes, the owner one
    anon_plan = supabase_anon.table("notes").select("body").explain(analyze=True, format="json").execute().data
    owner_plan = client_for(localbase_server, token).table("notes").select("body") \
        .explain(analyze=True, format="json").execute().data
    assert anon_plan[0]["Plan"]["Plans"][0]["Actual Rows"] == 0
    assert owner_plan[0]["Plan"]["Plans"][0]["Actual Rows"] == 1
    # an analyzed insert runs and is rolled back
    r = httpx.post(f"{localbase_server.url}/rest/v1/countries", json={"name": "Atlantis", "code": "AT"}, headers={
        "apikey": localbase_server.service_role_key, "Authorization": f"Bearer {localbase_server.service_role_key}",
        "Accept": f"{PLAN_JSON}; options=analyze"})
    assert r.status_code == 200 and r.json()[0]["Plan"]
    assert sql(localbase_server, "select count(*) from countries where code = 'AT'")[0][0] == 0
