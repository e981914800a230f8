"""Who is looking at the dashboard: a citizen signed in with email and password (Supabase Auth,
their JWT on every query), or — only when the dashboard was started with the service-role key —
the operator, who proves it by entering that key. Kept in st.session_state, per browser session."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass

import streamlit as st

from efficiency_hub.accounts import Accounts
from efficiency_hub.dashboard.data import Runner, client_for
from efficiency_hub.errors import HubError
from efficiency_hub.models import Session
from efficiency_hub.settings import HubSettings
from supabase import AsyncClient

CITIZEN = "citizen (email and password)"
OPERATOR = "operator (service role)"
REFRESH_MARGIN = 60  # seconds before expiry when the access token is renewed

_VIEWER = "hub_viewer"
_CLIENT = "hub_client"


@dataclass
class Viewer:
    label: str
    session: Session | None = None  # None: the operator, through the service role

    @property
    def operator(self) -> bool:
        return self.session is None

    @property
    def token(self) -> str | None:
        return self.session.access_token if self.session else None


def sign_in_form(settings: HubSettings, runner: Runner) -> None:
    """The sign-in form; a successful sign-in reruns the app with the viewer in the session."""
    modes = [CITIZEN, OPERATOR] if settings.service_role_key else [CITIZEN]
    mode = st.radio("Sign in as", modes, horizontal=True, key="sign_in_mode") if len(modes) > 1 else CITIZEN
    with st.form("sign_in"):
        if mode == CITIZEN:
            email = st.text_input("Email", key="sign_in_email")
            password = st.text_input("Password", type="password", key="sign_in_password")
        else:
            key = st.text_input("Service-role key", type="password", key="sign_in_service_key",
                                help="the SUPABASE_SERVICE_ROLE_KEY this dashboard was started with "
                                     "(`efficiency-hub up` prints it): the operator sees every row")
        submitted = st.form_submit_button("Sign in", type="primary", key="sign_in_submit")
    if not submitted:
        return
    if mode == OPERATOR:
        viewer = _operator(settings, key)
    else:
        viewer = _citizen(settings, runner, email, password)
    if viewer is not None:
        _set_viewer(viewer)
        st.rerun()


def _citizen(settings: HubSettings, runner: Runner, email: str, password: str) -> Viewer | None:
    if not email.strip() or not password:
        st.error("Enter your email and password.")
        return None
    try:
        session = runner.run(Accounts(settings, runner.http).sign_in(email.strip(), password))
    except HubError as exc:
        st.error(f"Sign-in failed: {exc.message}")
        return None
    return Viewer(session.email or email.strip(), session)


def _operator(settings: HubSettings, entered: str) -> Viewer | None:
    expected = settings.service_role_key or ""
    if not expected or not hmac.compare_digest(entered.strip().encode(), expected.encode()):
        st.error("Sign-in failed: that is not the service-role key this dashboard was started with.")
        return None
    return Viewer("operator (service role)")


def _set_viewer(viewer: Viewer | None) -> None:
    st.session_state.pop(_CLIENT, None)
    if viewer is None:
        st.session_state.pop(_VIEWER, None)
    else:
        st.session_state[_VIEWER] = viewer


def current_viewer(settings: HubSettings, runner: Runner) -> Viewer | None:
    """The signed-in viewer, their access token renewed when it is about to expire."""
    viewer: Viewer | None = st.session_state.get(_VIEWER)
    if viewer is None or viewer.session is None:
        return viewer
    expires_at = viewer.session.expires_at or 0
    if expires_at and time.time() > expires_at - REFRESH_MARGIN:
        try:
            renewed = runner.run(Accounts(settings, runner.http).refresh(viewer.session.refresh_token))
        except HubError as exc:
            _set_viewer(None)
            st.warning(f"Your session ended ({exc.message}); sign in again.")
            return None
        viewer = Viewer(viewer.label, renewed)
        _set_viewer(viewer)
    return viewer


def viewer_client(settings: HubSettings, runner: Runner, viewer: Viewer) -> AsyncClient:
    """The viewer's supabase client (their JWT, or the service role for the operator), made once
    per session and again when the token changes."""
    cached = st.session_state.get(_CLIENT)
    if cached is not None and cached[0] == viewer.token:
        return cached[1]
    client = runner.run(client_for(settings, runner, viewer.token))
    st.session_state[_CLIENT] = (viewer.token, client)
    return client


def sign_out(settings: HubSettings, runner: Runner, viewer: Viewer) -> None:
    """Ends the Auth session (its refresh token stops working) and forgets the viewer."""
    _set_viewer(None)
    if viewer.session is not None:
        try:
            runner.run(Accounts(settings, runner.http).sign_out(viewer.session.access_token))
        except HubError as exc:  # signed out here regardless; say that the server did not confirm
            st.session_state["sign_out_warning"] = f"The server did not confirm the sign-out: {exc.message}"
    st.rerun()


def expired(exc: HubError) -> bool:
    """Whether a failed query means the viewer has to sign in again."""
    return exc.status == 401
