"""The dashboard script under Streamlit's AppTest, against the real Localbase: the sign-in form,
what each viewer's tables hold (row-level security decides: own rows, a supervisor's
subordinates, the operator everything), and the filters."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from efficiency_hub.dashboard import APP, auth, data
from efficiency_hub.models import INTERVENTION, Clearance
from efficiency_hub.tracker import Tracker
from efficiency_hub.workspaces import Workspaces
from tests.hub.conftest import PASSWORD


def open_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def sign_in(at: AppTest, email: str, password: str = PASSWORD) -> AppTest:
    at.text_input(key="sign_in_email").input(email)
    at.text_input(key="sign_in_password").input(password)
    at.button(key="sign_in_submit").click()
    at.run()
    assert not at.exception, at.exception
    return at


# The page's tables, told apart by their columns (st.dataframe keeps no key in AppTest's tree).
TABLES = {"citizens_table": data.CITIZEN_COLUMNS, "events_table": data.EVENT_COLUMNS,
          "metrics_table": data.METRIC_COLUMNS, "workspaces_table": data.WORKSPACE_COLUMNS}


def table(at: AppTest, key: str) -> pd.DataFrame:
    [frame] = [element.value for element in at.dataframe if list(element.value.columns) == TABLES[key]]
    return frame


def shown(at: AppTest, key: str, column: str = "citizen_id") -> set[str]:
    return set(table(at, key)[column])


def errors(at: AppTest) -> list[str]:
    return [element.value for element in at.error]


async def test_sign_in_form_and_a_wrong_password(dashboard_env, make_person):
    ada = await make_person(Clearance.yellow, name="Ada")
    at = open_app()
    assert {w.key for w in at.text_input} == {"sign_in_email", "sign_in_password"}
    assert not at.radio  # no operator sign-in without the service-role key
    assert not at.dataframe

    sign_in(at, ada.email, "not-the-password")
    assert any("Sign-in failed" in message for message in errors(at)), errors(at)
    assert not at.dataframe and "hub_viewer" not in at.session_state

    sign_in(at, ada.email)
    assert not errors(at)
    assert at.session_state["hub_viewer"].label == ada.email
    citizens = table(at, "citizens_table")
    assert list(citizens["citizen_id"]) == [ada.citizen_id]
    # the score bars are coloured by band (green above 50, red below), not all in the theme's red
    [grid] = [element for element in at.dataframe if list(element.value.columns) == data.CITIZEN_COLUMNS]
    score = json.loads(grid.proto.columns)["score"]["type_config"]
    assert (score["type"], score["min_value"], score["max_value"], score["color"]) == ("progress", 0, 100, "auto")
    assert citizens["clearance"].tolist() == ["yellow"] and citizens["score"].tolist() == [75.0]
    sidebar = " ".join(element.value for element in [*at.sidebar.markdown, *at.sidebar.caption])
    assert ada.email in sidebar and ada.citizen_id in sidebar and "yellow" in sidebar

    at.sidebar.button(key="sign_out").click().run()
    assert "hub_viewer" not in at.session_state and at.text_input(key="sign_in_email")


async def test_each_viewer_sees_what_rls_allows(dashboard_env, make_person, as_user, admin, service):
    boss = await make_person(Clearance.green, name="Boss")
    worker = await make_person(Clearance.red, name="Worker")
    stranger = await make_person(Clearance.green, name="Stranger")
    await admin.assign_supervisor(boss.citizen_id, worker.citizen_id)
    worker_tracker = Tracker(await as_user(worker))
    done = await worker_tracker.record_event(worker.citizen_id, "task_completed", 5)
    missed = await worker_tracker.record_event(worker.citizen_id, "missed_deadline", -30)
    # the monitor's answer (the monitor writes with the service role)
    await service.table("efficiency_events").insert(
        {"citizen_id": str(worker.citizen.id), "event_type": INTERVENTION, "efficiency_delta": 15,
         "triggered_by": missed.id, "details": {}}).execute()
    await worker_tracker.optimize(worker.citizen_id, completion_time=1800, automation_level=1.2)
    secret = await Tracker(await as_user(stranger)).record_event(stranger.citizen_id, "task_completed", 3)
    await Workspaces(await as_user(boss)).create("Boss's room", Clearance.green)
    await Workspaces(await as_user(stranger)).create("Stranger's room")

    at = sign_in(open_app(), boss.email)
    assert shown(at, "citizens_table") == {boss.citizen_id, worker.citizen_id}
    events = table(at, "events_table")
    assert set(events["id"]) >= {done.id, missed.id} and secret.id not in set(events["id"])
    assert set(events["citizen_id"]) == {worker.citizen_id}
    [answer] = events[events["intervention"]].to_dict("records")
    assert answer["triggered_by"] == missed.id and answer["score_after"] == 65.0
    assert events.set_index("id").loc[missed.id, "score_after"] == 50.0   # 75 + 5 - 30
    feed = [element.value for element in at.markdown if f"**{worker.citizen_id}**" in element.value]
    assert any(line.startswith(":green-background[") and INTERVENTION in line for line in feed), feed
    assert any(line.startswith(":red-background[") and "missed_deadline" in line for line in feed), feed
    assert shown(at, "metrics_table") == {worker.citizen_id}
    assert table(at, "metrics_table")["optimization_score"].tolist() == [54.0]
    assert shown(at, "workspaces_table", "name") == {"Boss's room"}
    specs = [chart.proto.spec for chart in at.get("vega_lite_chart")]
    assert len(specs) == 2 and '"score_after"' in specs[0] and '"optimization_score"' in specs[1]

    # the subordinate sees only their own rows: not the boss, not the boss's workspace
    at = sign_in(open_app(), worker.email)
    assert shown(at, "citizens_table") == {worker.citizen_id}
    assert shown(at, "workspaces_table", "name") == set()
    assert shown(at, "events_table") == {worker.citizen_id}


async def test_filters_narrow_the_tables(dashboard_env, make_person, as_user, admin):
    boss = await make_person(Clearance.blue, name="Boss")
    low = await make_person(Clearance.infrared, name="Low")
    high = await make_person(Clearance.violet, name="High")
    for person in (low, high):
        await admin.assign_supervisor(boss.citizen_id, person.citizen_id)
        await Tracker(await as_user(person)).record_event(person.citizen_id, "task_completed", 2)

    at = sign_in(open_app(), boss.email)
    assert shown(at, "citizens_table") == {boss.citizen_id, low.citizen_id, high.citizen_id}
    assert set(at.sidebar.multiselect(key="filter_citizen").options) == \
        {boss.citizen_id, low.citizen_id, high.citizen_id}

    at.sidebar.multiselect(key="filter_clearance").set_value(["infrared"]).run()
    assert shown(at, "citizens_table") == {low.citizen_id}
    assert shown(at, "events_table") == {low.citizen_id}

    at.sidebar.multiselect(key="filter_clearance").set_value(["infrared", "violet"]).run()
    assert shown(at, "citizens_table") == {low.citizen_id, high.citizen_id}

    at.sidebar.multiselect(key="filter_clearance").set_value([]).run()
    at.sidebar.multiselect(key="filter_citizen").set_value([high.citizen_id]).run()
    assert shown(at, "citizens_table") == {high.citizen_id}
    assert shown(at, "events_table") == {high.citizen_id}

    # both: a citizen outside the chosen clearance leaves nothing
    at.sidebar.multiselect(key="filter_clearance").set_value(["blue"]).run()
    assert table(at, "citizens_table").empty and table(at, "events_table").empty
    assert not at.exception


async def test_the_operator_needs_the_service_role_key(dashboard_env, make_person, settings):
    dashboard_env(operator=True)
    one, other = await make_person(), await make_person()
    at = open_app()
    at.radio(key="sign_in_mode").set_value("operator (service role)").run()
    assert [w.key for w in at.text_input] == ["sign_in_service_key"]

    at.text_input(key="sign_in_service_key").input(settings.anon_key)
    at.button(key="sign_in_submit").click().run()
    assert any("not the service-role key" in message for message in errors(at)), errors(at)
    assert not at.dataframe

    at.text_input(key="sign_in_service_key").input(settings.service_role_key)
    at.button(key="sign_in_submit").click().run()
    assert not errors(at) and not at.exception
    assert shown(at, "citizens_table") >= {one.citizen_id, other.citizen_id}


@pytest.mark.parametrize("missing", ["SUPABASE_URL", "SUPABASE_ANON_KEY"])
def test_without_settings_it_says_what_to_set(dashboard_env, monkeypatch, missing):
    monkeypatch.delenv(missing)
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert any("SUPABASE_URL and SUPABASE_ANON_KEY" in message for message in errors(at)), errors(at)


async def test_an_expiring_token_is_renewed(dashboard_env, make_person):
    ada = await make_person()
    at = sign_in(open_app(), ada.email)
    viewer = at.session_state["hub_viewer"]
    expiring = viewer.session.model_copy(update={"expires_at": int(time.time()) + 5})  # inside the margin
    at.session_state["hub_viewer"] = auth.Viewer(viewer.label, expiring)
    at.run()
    renewed = at.session_state["hub_viewer"].session
    assert renewed.refresh_token != expiring.refresh_token and renewed.expires_at > time.time() + 600
    assert not errors(at) and shown(at, "citizens_table") == {ada.citizen_id}


async def test_evidence_panel_shows_what_the_bucket_policies_allow(dashboard_env, make_person, as_user, admin):
    from efficiency_hub.evidence import Evidence
    boss = await make_person(Clearance.green, name="Boss")
    worker = await make_person(Clearance.red, name="Worker")
    stranger = await make_person(Clearance.green, name="Stranger")
    await admin.assign_supervisor(boss.citizen_id, worker.citizen_id)
    worker_client = await as_user(worker)
    event = await Tracker(worker_client).record_event(worker.citizen_id, "report_filed", 2)
    await Evidence(worker_client).attach(event.id, "notes.txt", b"three sites checked", "text/plain")

    def evidence_table(at: AppTest) -> pd.DataFrame:
        [frame] = [e.value for e in at.dataframe if list(e.value.columns) == data.EVIDENCE_COLUMNS]
        return frame

    for viewer in (worker, boss):  # the owner and the supervisor see the file, with a signed link
        at = sign_in(open_app(), viewer.email)
        at.selectbox(key="evidence_event").set_value(event.id).run()
        assert not at.exception, at.exception
        files = evidence_table(at)
        assert files["name"].tolist() == ["notes.txt"] and files["size"].tolist() == [19]
        assert "/storage/v1/object/sign/efficiency-evidence/" in files["link"][0]

    own = await Tracker(await as_user(stranger)).record_event(stranger.citizen_id, "task_completed", 1)
    at = sign_in(open_app(), stranger.email)  # the stranger cannot even pick the event
    options = at.selectbox(key="evidence_event").options
    assert str(own.id) in " ".join(options) and not any(f"#{event.id} " in o for o in options)
