"""Row-level security on the hub's schema, seen through the supabase client: own rows,
supervisors see their subordinates (transitively), workspaces by membership and clearance, anon
sees nothing, the service role sees all."""

from __future__ import annotations

import pytest

from efficiency_hub.clients import anon_client
from efficiency_hub.errors import NotFound, PermissionDenied, translated
from efficiency_hub.models import Clearance
from efficiency_hub.tracker import Tracker
from efficiency_hub.workspaces import Workspaces


async def visible(client, table: str, column: str, values: set[str]) -> set[str]:
    rows = (await client.table(table).select(column).in_(column, sorted(values)).execute()).data
    return {row[column] for row in rows}


async def test_own_rows_only(make_person, as_user):
    alice, bob = await make_person(), await make_person()
    a = await as_user(alice)
    await Tracker(a).record_event(alice.citizen_id, "task_completed", 1)
    await Tracker(await as_user(bob)).record_event(bob.citizen_id, "task_completed", 1)
    ids = {alice.citizen_id, bob.citizen_id}
    assert await visible(a, "citizens", "citizen_id", ids) == {alice.citizen_id}
    events = (await a.table("efficiency_events").select("citizen_id")
              .in_("citizen_id", [str(alice.citizen.id), str(bob.citizen.id)]).execute()).data
    assert {e["citizen_id"] for e in events} == {str(alice.citizen.id)}
    with pytest.raises(NotFound):
        await Tracker(a).citizen(bob.citizen_id)
    # writing another citizen's event is refused by the database, whatever the payload says
    with pytest.raises(PermissionDenied), translated():
        await a.table("efficiency_events").insert(
            {"citizen_id": str(bob.citizen.id), "event_type": "outage", "efficiency_delta": -50}).execute()


async def test_a_citizen_cannot_raise_their_own_score_or_clearance(make_person, as_user):
    eve = await make_person(Clearance.red)
    client = await as_user(eve)
    with pytest.raises(PermissionDenied), translated():
        await client.table("citizens").update({"clearance_level": "ultraviolet"}) \
                .eq("citizen_id", eve.citizen_id).execute()
    with pytest.raises(PermissionDenied), translated():
        await client.table("citizens").update({"efficiency_score": 100}).eq("citizen_id", eve.citizen_id).execute()
    # the profile fields are theirs to edit
    rows = (await client.table("citizens").update({"specialization": "logistics"})
            .eq("citizen_id", eve.citizen_id).execute()).data
    assert rows[0]["specialization"] == "logistics" and rows[0]["clearance_level"] == "red"


async def test_supervisors_see_their_subordinates_transitively(make_person, as_user, admin):
    boss, lead, worker, outsider = [await make_person() for _ in range(4)]
    await admin.assign_supervisor(boss.citizen_id, lead.citizen_id)
    await admin.assign_supervisor(lead.citizen_id, worker.citizen_id)
    await Tracker(await as_user(worker)).record_event(worker.citizen_id, "task_completed", 2)
    everyone = {p.citizen_id for p in (boss, lead, worker, outsider)}
    assert await visible(await as_user(boss), "citizens", "citizen_id", everyone) == \
        {boss.citizen_id, lead.citizen_id, worker.citizen_id}
    assert await visible(await as_user(lead), "citizens", "citizen_id", everyone) == \
        {lead.citizen_id, worker.citizen_id}
    assert await visible(await as_user(worker), "citizens", "citizen_id", everyone) == {worker.citizen_id}
    # the boss reads the worker's events and score, but cannot record the worker's own events for them
    boss_tracker = Tracker(await as_user(boss))
    assert [e.event_type for e in await boss_tracker.events(worker.citizen_id)] == ["task_completed"]
    with pytest.raises(PermissionDenied):
        await boss_tracker.record_event(worker.citizen_id, "task_completed", 1)


async def test_a_hierarchy_cycle_does_not_loop(make_person, as_user, admin):
    a, b = await make_person(), await make_person()
    await admin.assign_supervisor(a.citizen_id, b.citizen_id)
    await admin.assign_supervisor(b.citizen_id, a.citizen_id)
    assert await visible(await as_user(a), "citizens", "citizen_id", {a.citizen_id, b.citizen_id}) == \
        {a.citizen_id, b.citizen_id}


async def test_workspaces_by_membership_and_clearance(make_person, as_user):
    owner, member, low, stranger = (await make_person(Clearance.violet), await make_person(Clearance.blue),
                                    await make_person(Clearance.orange), await make_person(Clearance.violet))
    spaces = Workspaces(await as_user(owner))
    secret = await spaces.create("Blue ops", Clearance.blue, "needs blue")
    await spaces.add_member(str(secret.workspace_id), member.citizen_id)
    with pytest.raises(PermissionDenied, match="requires blue"):
        await spaces.add_member(str(secret.workspace_id), low.citizen_id)
    assert [w.name for w in await Workspaces(await as_user(member)).list()] == ["Blue ops"]
    assert await Workspaces(await as_user(stranger)).list() == []
    with pytest.raises(NotFound):
        await Workspaces(await as_user(stranger)).get(str(secret.workspace_id))
    members = await Workspaces(await as_user(member)).members(str(secret.workspace_id))
    assert {m.role for m, _ in members} == {"owner", "member"}
    # a non-owner cannot add members, nor create a workspace above their own clearance
    with pytest.raises(PermissionDenied):
        await Workspaces(await as_user(member)).add_member(str(secret.workspace_id), stranger.citizen_id)
    with pytest.raises(PermissionDenied):
        await Workspaces(await as_user(low)).create("Too high", Clearance.ultraviolet)


async def test_anon_sees_nothing_and_the_service_role_sees_all(make_person, settings, service):
    alice = await make_person()
    anon = await anon_client(settings)
    with pytest.raises(PermissionDenied), translated():
        await anon.table("citizens").select("*").execute()
    assert await visible(service, "citizens", "citizen_id", {alice.citizen_id}) == {alice.citizen_id}
