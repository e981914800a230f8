"""Callers hitting the API at the same time: the process's one supabase client and its pooled
connections serve them all, and each request still runs as its own caller (RLS decides), so no
caller ever sees another's rows, whatever the interleaving."""

from __future__ import annotations

import asyncio

from tests.hub.api.conftest import bearer

ROUNDS = 10


async def test_two_users_at_the_same_time_each_see_only_their_own_rows(api, make_person):
    alice, bob = await make_person(), await make_person()
    for person in (alice, bob):  # an event of their own each, so the events lists differ
        recorded = await api.post("/events", json={"event_type": "task_completed", "efficiency_delta": 1,
                                                   "details": {"owner": person.citizen_id}},
                                  headers=bearer(person.token))
        assert recorded.status_code == 201, recorded.text

    async def as_caller(person, other) -> list[str]:
        """What `person` is told in one burst of requests, each a different read of the API."""
        me = bearer(person.token)
        listed, own, hidden, events, data = await asyncio.gather(
            api.get("/citizens", headers=me), api.get(f"/citizens/{person.citizen_id}", headers=me),
            api.get(f"/citizens/{other.citizen_id}", headers=me), api.get("/events", headers=me),
            api.get("/protected/efficiency-data", headers=me))
        assert [c["citizen_id"] for c in listed.json()] == [person.citizen_id], listed.text
        assert own.status_code == 200 and own.json()["citizen_id"] == person.citizen_id, own.text
        assert hidden.status_code == 404, hidden.text
        assert events.status_code == 200 and {e["citizen"] for e in events.json()} == {person.citizen_id}, events.text
        assert [e["details"] for e in data.json()["recent_events"]] == [{"owner": person.citizen_id}], data.text
        return [data.json()["citizen_id"]]

    # both callers' bursts interleaved, many times over, on the same API process
    seen = await asyncio.gather(*(as_caller(*pair) for _ in range(ROUNDS)
                                  for pair in ((alice, bob), (bob, alice))))
    assert seen == [[alice.citizen_id], [bob.citizen_id]] * ROUNDS
