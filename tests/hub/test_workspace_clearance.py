"""Workspaces against raw REST with an owner's own JWT: an owner never lifts a workspace above
their own clearance, and adding a member never reveals that member's clearance."""

from __future__ import annotations

import pytest
from postgrest.exceptions import APIError

from efficiency_hub.models import Clearance
from efficiency_hub.workspaces import Workspaces


async def test_an_owner_cannot_raise_a_workspace_above_their_own_clearance(make_person, as_user):
    owner = await make_person(Clearance.blue)
    client = await as_user(owner)
    space = await Workspaces(client).create("Blue room", Clearance.blue)
    with pytest.raises(APIError) as info:
        await client.table("efficiency_workspaces").update({"clearance_requirement": "ultraviolet"}) \
            .eq("workspace_id", str(space.workspace_id)).execute()
    assert info.value.code == "42501"
    kept = await Workspaces(client).get(str(space.workspace_id))
    assert kept.clearance_requirement is Clearance.blue
    # lowering it, or raising it up to their own clearance, is theirs to do
    for level in ("green", "blue"):
        rows = (await client.table("efficiency_workspaces").update({"clearance_requirement": level})
                .eq("workspace_id", str(space.workspace_id)).execute()).data
        assert rows[0]["clearance_requirement"] == level


async def test_adding_a_member_never_reveals_their_clearance(make_person, as_user):
    owner, low = await make_person(Clearance.violet), await make_person(Clearance.orange)
    client = await as_user(owner)
    space = await Workspaces(client).create("Violet room", Clearance.violet)
    with pytest.raises(APIError) as info:
        await client.rpc("add_workspace_member", {"p_workspace": str(space.workspace_id),
                                                  "p_citizen_id": low.citizen_id}).execute()
    error = info.value
    assert error.code == "42501" and "requires violet clearance" in error.message
    assert "orange" not in f"{error.message} {error.details} {error.hint}"
