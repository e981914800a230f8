"""The Efficiency Hub's live dashboard (a Streamlit script):

    SUPABASE_URL=... SUPABASE_ANON_KEY=... streamlit run src/efficiency_hub/dashboard/app.py

(`efficiency-hub up` starts it). A citizen signs in and sees what row-level security lets them
see — their own rows and their subordinates' — refreshed every couple of seconds without a page
reload: citizens with clearance and score, the event stream with interventions highlighted, score
trends, the optimizer's metrics and workspaces; below them, the evidence files attached to an
event (with previews, and an uploader for one's own events). With SUPABASE_SERVICE_ROLE_KEY in the
environment, an operator who enters that key sees everything. EFFICIENCY_HUB_DASHBOARD_REFRESH sets
the refresh interval in seconds (2 by default)."""

from __future__ import annotations

import os

import streamlit as st

from efficiency_hub.dashboard import auth, charts, data, evidence
from efficiency_hub.errors import HubError
from efficiency_hub.models import Clearance
from efficiency_hub.settings import HubSettings, MissingSettings
from efficiency_hub.tracker import Tracker

REFRESH_SECONDS = float(os.environ.get("EFFICIENCY_HUB_DASHBOARD_REFRESH", "2"))
FEED_LINES = 8
SECONDS = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")


@st.cache_resource(show_spinner=False)
def _settings(url: str | None, anon: str | None, service: str | None) -> HubSettings:
    env = {name: value for name, value in (("SUPABASE_URL", url), ("SUPABASE_ANON_KEY", anon),
                                           ("SUPABASE_SERVICE_ROLE_KEY", service)) if value}
    return HubSettings.from_env(env)


def settings() -> HubSettings:
    # keyed by the values (the names HubSettings.from_env reads), so a changed environment gets its own
    return _settings(os.environ.get("SUPABASE_URL") or os.environ.get("API_URL"),
                     os.environ.get("SUPABASE_ANON_KEY") or os.environ.get("ANON_KEY"),
                     os.environ.get("SUPABASE_SERVICE_ROLE_KEY") or os.environ.get("SERVICE_ROLE_KEY"))


@st.cache_resource(show_spinner=False)
def runner() -> data.Runner:
    return data.Runner()


def sidebar(hub: HubSettings, loop: data.Runner, viewer: auth.Viewer, client) -> data.Filters:
    with st.sidebar:
        st.markdown(f"**Signed in as** {viewer.label}")
        if not viewer.operator:
            try:
                me = loop.run(Tracker(client).me())
                st.caption(f"{me.citizen_id} · {me.name} · clearance **{me.clearance_level.value}**")
            except HubError as exc:
                st.caption(f"no citizen profile ({exc.message})")
        else:
            st.caption("service role: every row, row-level security bypassed")
        if st.button("Sign out", key="sign_out"):
            auth.sign_out(hub, loop, viewer)
        st.divider()
        st.subheader("Filters")
        try:
            everyone = loop.run(data.visible_citizens(client))
        except HubError as exc:
            if auth.expired(exc):
                auth.sign_out(hub, loop, viewer)
            st.error(f"Could not read citizens: {exc.message}")
            everyone = []
        clearances = st.multiselect("Clearance", [c.value for c in Clearance], key="filter_clearance",
                                    placeholder="all clearances")
        ids = st.multiselect("Citizen", sorted(c.citizen_id for c in everyone), key="filter_citizen",
                             placeholder="all citizens you can see")
        st.caption(f"updates every {REFRESH_SECONDS:g} s")
    return data.Filters(tuple(Clearance(c) for c in clearances), tuple(ids))


@st.fragment(run_every=REFRESH_SECONDS)
def live(hub: HubSettings, loop: data.Runner, viewer: auth.Viewer, filters: data.Filters) -> None:
    current = auth.current_viewer(hub, loop)  # the token may have been renewed (or the session ended)
    if current is None:
        st.rerun()
        return
    viewer = current
    client = auth.viewer_client(hub, loop, viewer)
    try:
        snap = loop.run(data.snapshot(client, filters))
    except HubError as exc:
        if auth.expired(exc):
            auth.sign_out(hub, loop, viewer)
        st.error(f"Could not read the hub's data: {exc.message}")
        return
    citizens = data.citizens_frame(snap.citizens)
    events = data.events_frame(snap.events)
    metrics = data.metrics_frame(snap.metrics)

    top = st.columns(4)
    top[0].metric("Citizens", len(citizens))
    top[1].metric("Average score", f"{citizens['score'].mean():.1f}" if len(citizens) else "–")
    top[2].metric("Events shown", len(events))
    top[3].metric("Interventions", int(events["intervention"].sum()))

    feed_column, trend_column = st.columns([2, 3])
    with feed_column:
        st.subheader("Live events")
        feed = st.container(key="event_feed")
        if events.empty:
            feed.caption("no events yet")
        for _, event in events.head(FEED_LINES).iterrows():
            feed.markdown(charts.feed_line(event))
    with trend_column:
        st.subheader("Score trends")
        trend = charts.score_trend(events)
        if trend is None:
            st.caption("no scored events yet")
        else:
            st.altair_chart(trend, key="score_trend")

    left, right = st.columns([2, 3])
    with left:
        st.subheader("Citizens")
        st.dataframe(citizens, key="citizens_table", hide_index=True,
                     column_config={"score": st.column_config.ProgressColumn(  # green above 50, red below
                         "score", min_value=0, max_value=100, format="%.2f", color="auto"),
                         "updated": SECONDS})
    with right:
        st.subheader("Event stream")
        st.dataframe(charts.highlighted_events(events), key="events_table", hide_index=True,
                     column_config={"time": st.column_config.DatetimeColumn("time", format="HH:mm:ss")})

    left, right = st.columns([2, 3])
    with left:
        st.subheader("Optimizer metrics")
        bars = charts.optimizer_scores(metrics)
        if bars is not None:
            st.altair_chart(bars, key="optimizer_chart")
        st.dataframe(metrics, key="metrics_table", hide_index=True, column_config={"processed_at": SECONDS})
    with right:
        st.subheader("Workspaces")
        st.dataframe(data.workspaces_frame(snap.workspaces, snap.owners), key="workspaces_table", hide_index=True,
                     column_config={"created": SECONDS})
    st.caption(f"as of {snap.taken_at.astimezone():%H:%M:%S}")


def main() -> None:
    st.set_page_config(page_title="Efficiency Hub", page_icon="⚡", layout="wide")
    st.title("Efficiency Hub")
    try:
        hub = settings()
    except MissingSettings as exc:
        st.error(str(exc))
        st.stop()
    loop = runner()
    if warning := st.session_state.pop("sign_out_warning", None):
        st.warning(warning)
    viewer = auth.current_viewer(hub, loop)
    if viewer is None:
        auth.sign_in_form(hub, loop)
        return
    client = auth.viewer_client(hub, loop, viewer)
    filters = sidebar(hub, loop, viewer, client)
    live(hub, loop, viewer, filters)
    evidence.panel(loop, client)


main()
