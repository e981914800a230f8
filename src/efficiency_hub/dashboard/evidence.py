"""The dashboard's evidence panel: pick one of the events you can see, list its evidence files
(Storage, bucket efficiency-evidence: the owner's and their supervisors' to read) with signed links
and image previews, and attach a file to one of your own events.

A fragment of its own, not refreshed on a timer: choosing an event or uploading reruns only it."""

from __future__ import annotations

import streamlit as st

from efficiency_hub.dashboard import data
from efficiency_hub.errors import HubError

PREVIEWS = 4


@st.fragment
def panel(loop: data.Runner, client) -> None:
    st.subheader("Evidence")
    if notice := st.session_state.pop("evidence_notice", None):
        st.success(notice)
    try:
        choices = loop.run(data.evidence_choices(client))
    except HubError as exc:
        st.error(f"Could not read events: {exc.message}")
        return
    if not choices:
        st.caption("no events yet: evidence is attached to an event")
        return
    events: list[int] = list(choices)
    event_id = st.selectbox("Event", events, format_func=lambda event: choices[event], key="evidence_event")
    if event_id is None:
        return
    try:
        files = loop.run(data.evidence_files(client, event_id))
    except HubError as exc:
        st.error(f"Could not read the evidence: {exc.message}")
        return
    if files:
        st.dataframe(data.evidence_frame(files), key="evidence_table", hide_index=True,
                     column_config={"link": st.column_config.LinkColumn("link", display_text="open")})
        images = [(f.url, f.name) for f in files if f.content_type.startswith("image/") and f.url][:PREVIEWS]
        if images:
            st.image([url for url, _ in images], caption=[name for _, name in images], width=160)
    else:
        st.caption("no evidence attached to this event")
    uploads = st.session_state.get("evidence_uploads", 0)  # a new key empties the uploader after an attach
    upload = st.file_uploader("Attach a file to this event (your own events only)", key=f"evidence_file_{uploads}",
                              type=["png", "jpg", "jpeg", "webp", "pdf", "txt", "csv"])
    if upload is not None and st.button("Attach", key="evidence_attach"):
        try:
            stored = loop.run(data.attach_evidence(client, event_id, upload.name, upload.getvalue(),
                                                   upload.type or "application/octet-stream"))
        except HubError as exc:
            st.error(f"Could not attach {upload.name}: {exc.message}")
            return
        st.session_state["evidence_notice"] = f"attached {stored.name}"
        st.session_state["evidence_uploads"] = uploads + 1
        st.rerun(scope="fragment")
