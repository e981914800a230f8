"""PostgREST's in-database configuration (`pgrst.*` settings of the connecting role) beyond aggregates
and plans (test_aggregates.py, test_explain.py): db_pre_request, db_max_rows, db_tx_end."""

from __future__ import annotations

import httpx
import pytest
from postgrest.exceptions import APIError

from tests.localbase.helpers import client_for


def _status(server, headers: dict[str, str] | None = None, path: str = "countries?select=code") -> int:
    return httpx.get(f"{server.url}/rest/v1/{path}", headers={"apikey": server.anon_key, **(headers or {})}) \
        .status_code


def test_pre_request_runs_first_as_the_caller_and_may_refuse(pgrst_setting, localbase_server):
    pgrst_setting("db_pre_request", "public.check_request",
                  lambda: _status(localbase_server, {"x-blocked": "yes"}) == 403)
    blocked = client_for(localbase_server)
    blocked.postgrest.session.headers["x-blocked"] = "yes"
    with pytest.raises(APIError) as err:
        blocked.table("countries").select("code").execute()
    assert (err.value.code, err.value.message) == ("BLOCKED", "refused by the pre-request")
    r = httpx.post(f"{localbase_server.url}/rest/v1/rpc/add_them", json={"a": 1, "b": 2},
                   headers={"apikey": localbase_server.anon_key, "x-blocked": "yes"})
    assert r.status_code == 403 and r.headers["x-refused-by"] == "anon"
    assert len(client_for(localbase_server).table("countries").select("code").execute().data) == 5


def test_max_rows_from_the_database(pgrst_setting, supabase_anon, localbase_server):
    pgrst_setting("db_max_rows", "2", lambda: len(supabase_anon.table("cities").select("id").execute().data) == 2)
    assert len(supabase_anon.table("cities").select("id").execute().data) == 2


def test_tx_end_commit_ignores_prefer_rollback(pgrst_setting, supabase_service, localbase_server):
    def committed_anyway() -> bool:
        r = httpx.post(f"{localbase_server.url}/rest/v1/tallies", json={"label": "tx-probe"}, headers={
            "apikey": localbase_server.service_role_key, "Prefer": "tx=rollback",
            "Authorization": f"Bearer {localbase_server.service_role_key}"})
        assert r.status_code == 201
        kept = supabase_service.table("tallies").select("id").eq("label", "tx-probe").execute().data
        supabase_service.table("tallies").delete().eq("label", "tx-probe").execute()
        return bool(kept)

    assert not committed_anyway()  # Localbase's default: Prefer tx=rollback is honoured
    pgrst_setting("db_tx_end", "commit", committed_anyway)
