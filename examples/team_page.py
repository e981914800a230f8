"""A team's own Streamlit page on the Efficiency Hub (docs/integration.md): sign in, then see the
citizens your clearance and position let you see, with their scores, refreshed live.

    SUPABASE_URL=... SUPABASE_ANON_KEY=... streamlit run examples/team_page.py

It talks to Supabase (or Localbase) with the signed-in user's token only: RLS decides the rows.
"""

from __future__ import annotations

import asyncio

import pandas as pd
import streamlit as st

from efficiency_hub.accounts import Accounts
from efficiency_hub.clients import user_client
from efficiency_hub.errors import HubError
from efficiency_hub.settings import HubSettings
from efficiency_hub.tracker import Tracker


@st.cache_resource
def settings() -> HubSettings:
    return HubSettings.from_env()


def run(coro):
    return asyncio.run(coro)


async def _team(token: str) -> pd.DataFrame:
    citizens = await Tracker(await user_client(settings(), token)).citizens()
    return pd.DataFrame([{"citizen": c.citizen_id, "name": c.name, "clearance": c.clearance_level.value,
                          "score": c.efficiency_score} for c in citizens])


st.title("My team's efficiency")

if "token" not in st.session_state:
    with st.form("sign-in"):
        email = st.text_input("Email")
        password = st.text_input("Password", type="password")
        if st.form_submit_button("Sign in"):
            try:
                st.session_state.token = run(Accounts(settings()).sign_in(email, password)).access_token
                st.rerun()
            except HubError as exc:
                st.error(exc.message)
    st.stop()


@st.fragment(run_every=5)
def team_table() -> None:
    frame = run(_team(st.session_state.token))
    st.metric("people you can see", len(frame))
    st.dataframe(frame, hide_index=True, key="team")


team_table()
if st.button("Sign out"):
    del st.session_state.token
    st.rerun()
