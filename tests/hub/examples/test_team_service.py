"""examples/team_service.py, as docs/integration.md shows it, against the hub on Localbase."""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture
async def team(settings, monkeypatch):
    monkeypatch.setenv("SUPABASE_URL", settings.supabase_url)
    monkeypatch.setenv("SUPABASE_ANON_KEY", settings.anon_key)
    monkeypatch.delenv("SUPABASE_SERVICE_ROLE_KEY", raising=False)
    from examples.team_service import app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://team") as client:
        yield client


async def test_completing_a_task_records_an_event_and_scores_it(team, make_person):
    alice = await make_person()
    answer = await team.post("/tasks/T-1/complete", json={"seconds": 1800, "automation_level": 1.2},
                             headers={"Authorization": f"Bearer {alice.token}"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"citizen_id": alice.citizen_id, "event_id": answer.json()["event_id"],
                             "score": 80.0, "optimization_score": 54.0}


async def test_without_a_token_or_with_a_bad_one_it_refuses(team):
    assert (await team.post("/tasks/T-1/complete", json={"seconds": 10})).status_code == 401
    bad = await team.post("/tasks/T-1/complete", json={"seconds": 10}, headers={"Authorization": "Bearer x.y.z"})
    assert bad.status_code == 401
