"""examples/team_page.py under Streamlit's AppTest, against the hub on Localbase: the sign-in
form, a wrong password, and the team a supervisor sees (RLS decides)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from efficiency_hub.models import Clearance
from tests.hub.conftest import PASSWORD

PAGE = Path(__file__).resolve().parents[3] / "examples" / "team_page.py"


def sign_in(at: AppTest, email: str, password: str) -> AppTest:
    at.text_input[0].input(email)
    at.text_input[1].input(password)
    at.button[0].click()
    return at.run()


async def test_a_supervisor_sees_the_team_and_a_wrong_password_is_told(settings, monkeypatch, make_person, admin):
    monkeypatch.setenv("SUPABASE_URL", settings.supabase_url)
    monkeypatch.setenv("SUPABASE_ANON_KEY", settings.anon_key)
    lead, member, other = (await make_person(Clearance.blue), await make_person(), await make_person())
    await admin.assign_supervisor(lead.citizen_id, member.citizen_id)

    at = sign_in(AppTest.from_file(str(PAGE), default_timeout=60).run(), lead.email, "wrong-Passw0rd")
    assert not at.exception and [e.value for e in at.error] == ["Invalid login credentials"]

    at = sign_in(at, lead.email, PASSWORD)
    assert not at.exception, at.exception
    [team] = [frame.value for frame in at.dataframe]
    assert set(team["citizen"]) == {lead.citizen_id, member.citizen_id}  # not `other`
    assert other.citizen_id not in set(team["citizen"])
    assert at.metric[0].value == "2"
