"""The efficiency-optimizer function, invoked with supabase.functions.invoke as the caller: the
formula, the upserted metrics row, validation (400 with the message), and RLS on whose metrics a
caller may compute."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from efficiency_hub.errors import AuthenticationFailed, InvalidInput, NotFound
from efficiency_hub.models import Clearance
from efficiency_hub.tracker import Tracker


@pytest.mark.parametrize("completion_time, manual, level, expected", [
    (3600, False, 1.0, 35.0),      # base 10 + bonus 25
    (3600, True, 1.0, 10.0),       # no bonus with manual configuration
    (1800, False, 2.0, 90.0),      # (20 + 25) * 2
    (360, False, 1.0, 100.0),      # (100 + 25) capped at 100
    (None, False, 1.0, 75.0),      # no time: base 50
    (None, True, 0.5, 25.0),       # 50 * 0.5
    (7200, False, 1.5, 45.0),      # (5 + 25) * 1.5
])
async def test_the_score_formula(make_person, as_user, completion_time, manual, level, expected):
    alice = await make_person()
    result = await Tracker(await as_user(alice)).optimize(
        alice.citizen_id, completion_time=completion_time, used_manual_config=manual, automation_level=level)
    assert result.optimization_score == expected
    assert result.delegation_efficiency == ("partial" if manual else "maximum")
    assert str(result.processed_by) == str(alice.citizen.user_id)


async def test_the_metrics_row_is_upserted_once_per_citizen(make_person, as_user, service):
    bob = await make_person()
    tracker = Tracker(await as_user(bob))
    first = await tracker.optimize(bob.citizen_id, completion_time=3600)
    second = await tracker.optimize(bob.citizen_id, completion_time=1800, used_manual_config=True)
    rows = (await service.table("efficiency_metrics").select("*").eq("citizen_id", str(bob.citizen.id))
            .execute()).data
    assert len(rows) == 1 and float(rows[0]["optimization_score"]) == 20.0 == second.optimization_score
    assert second.processed_at >= first.processed_at
    metrics = await tracker.metrics(bob.citizen_id)
    assert metrics is not None and metrics.delegation_efficiency == "partial"


@pytest.mark.parametrize("body, field", [
    ({"citizen_id": "nobody", "task_data": {}}, "citizen_id"),
    ({"citizen_id": "EFF-2025-001", "task_data": {"completion_time": 0}}, "completion_time"),
    ({"citizen_id": "EFF-2025-001", "task_data": {"completion_time": -5}}, "completion_time"),
    ({"citizen_id": "EFF-2025-001", "task_data": {"completion_time": "fast"}}, "completion_time"),
    ({"citizen_id": "EFF-2025-001", "task_data": {"automation_level": 0}}, "automation_level"),
    ({"citizen_id": "EFF-2025-001", "task_data": {"automation_level": 11}}, "automation_level"),
    ({"citizen_id": "EFF-2025-001", "task_data": {"used_manual_config": "yes"}}, "used_manual_config"),
    ({"citizen_id": "EFF-2025-001", "task_data": {"speed": 3}}, "task_data"),
    ({"citizen_id": "EFF-2025-001", "task_data": []}, "task_data"),
])
async def test_bad_input_is_a_400_with_a_clear_message(make_person, as_user, body, field):
    from supabase_functions.errors import FunctionsHttpError
    alice = await make_person()
    client = await as_user(alice)
    with pytest.raises(FunctionsHttpError) as caught:
        await client.functions.invoke("efficiency-optimizer", {"body": body})
    assert caught.value.status == 400
    assert field.split("_")[0] in caught.value.message


async def test_bad_input_through_the_tracker_is_invalid_input(make_person, as_user):
    alice = await make_person()
    with pytest.raises(InvalidInput, match="automation_level"):
        await Tracker(await as_user(alice)).optimize(alice.citizen_id, automation_level=-1)


async def test_the_caller_computes_only_citizens_they_may_see(make_person, as_user, admin):
    boss, worker, stranger = await make_person(Clearance.blue), await make_person(), await make_person()
    await admin.assign_supervisor(boss.citizen_id, worker.citizen_id)
    optimized = await Tracker(await as_user(boss)).optimize(worker.citizen_id, completion_time=3600)
    assert optimized.optimization_score == 35
    with pytest.raises(NotFound):
        await Tracker(await as_user(stranger)).optimize(worker.citizen_id, completion_time=3600)


async def test_an_anonymous_or_forged_caller_is_refused(make_person, settings):
    from efficiency_hub.clients import anon_client, user_client
    alice = await make_person()
    with pytest.raises(AuthenticationFailed, match="sign in"):  # the anon key is a valid JWT, not a user
        await Tracker(await anon_client(settings)).optimize(alice.citizen_id)
    forged = alice.token[:-4] + ("AAAA" if not alice.token.endswith("AAAA") else "BBBB")
    with pytest.raises(AuthenticationFailed):
        await Tracker(await user_client(settings, forged)).optimize(alice.citizen_id)


def test_the_function_type_checks_for_supabase(tmp_path):
    """The same index.ts deploys to Supabase's Edge Runtime: it must pass Deno's type check."""
    import subprocess

    import deno

    function = Path(__file__).resolve().parents[2] / "supabase" / "functions" / "efficiency-optimizer" / "index.ts"
    done = subprocess.run([deno.find_deno_bin(), "check", str(function)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "DENO_DIR": str(tmp_path), "NO_COLOR": "1"}, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
