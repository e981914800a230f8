"""One shared supabase client per process (clients.CallerClient): concurrent callers through the
same client each act as themselves (their JWT, so RLS decides), in tables, RPCs and writes, and
the shared client's own headers are never changed by them; so too when their query builders send
on an aiohttp pool (rest_session.RestSession), as in the hub's API."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from efficiency_hub.clients import CallerClient, aiohttp_pool, anon_client
from efficiency_hub.errors import PermissionDenied, translated
from efficiency_hub.rest_session import RestSession
from efficiency_hub.tracker import Tracker


@pytest.mark.parametrize("on_rest_session", [False, True], ids=["httpx", "rest-session"])
async def test_callers_sharing_one_client_each_see_their_own_rows(make_person, settings, on_rest_session):
    people = [await make_person() for _ in range(3)]
    async with httpx.AsyncClient() as http, aiohttp_pool() as pool:
        shared = await anon_client(settings, http)
        headers_before = dict(shared.postgrest.headers)
        rest = RestSession(pool) if on_rest_session else None

        async def sees(person) -> tuple[set[str], str]:
            me = CallerClient(shared, person.token, rest)
            ids = sorted(p.citizen_id for p in people)
            found: set[str] = set()
            for _ in range(5):  # interleaved with the other callers' requests on the same client
                rows = (await me.table("citizens").select("citizen_id").in_("citizen_id", ids).execute()).data
                found |= {r["citizen_id"] for r in rows}
                await asyncio.sleep(0)
            return found, (await Tracker(me).me()).citizen_id  # me(): the current_citizen_id() RPC

        results = await asyncio.gather(*(sees(p) for p in people))
        assert results == [({p.citizen_id}, p.citizen_id) for p in people]
        # writes go as the caller: their own event is recorded, another citizen's is refused by RLS
        alice = CallerClient(shared, people[0].token, rest)
        event = await Tracker(alice).record_event(people[0].citizen_id, "task_completed", 1)
        assert event.citizen_id == people[0].citizen.id
        with pytest.raises(PermissionDenied), translated():
            other = {"citizen_id": str(people[1].citizen.id), "event_type": "task_completed", "efficiency_delta": 1}
            await alice.table("efficiency_events").insert(other).execute()
        assert dict(shared.postgrest.headers) == headers_before  # still the anon key's, untouched
        with pytest.raises(PermissionDenied), translated():  # and the shared client itself is still anon
            await shared.table("citizens").select("citizen_id").execute()
