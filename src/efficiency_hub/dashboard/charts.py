"""How the dashboard draws its tables: score trends from the score each event left behind
(`score_after`), the optimizer's scores, and the event stream with interventions highlighted."""

from __future__ import annotations

from datetime import datetime, tzinfo

import altair as alt
import pandas as pd
from pandas.io.formats.style import Styler

INTERVENTION_BG = "#d4f5dc"   # pale green: the monitor stepped in
BAD_BG = "#fde2e1"            # pale red: an event the monitor answers (delta below its threshold)
BAD_DELTA = -10.0


def _tz() -> tzinfo | None:
    return datetime.now().astimezone().tzinfo


def _local(times: pd.Series) -> pd.Series:
    """Timezone-aware timestamps as this machine's wall-clock time (what Vega-Lite draws)."""
    return pd.to_datetime(times, utc=True).dt.tz_convert(_tz()).dt.tz_localize(None)


def score_trend(events: pd.DataFrame) -> alt.Chart | None:
    """Each citizen's score over time, one line per citizen; interventions as green dots."""
    points = events.dropna(subset=["score_after"])
    if points.empty:
        return None
    points = points.assign(time=_local(points["time"])).sort_values(["time", "id"])
    base = alt.Chart(points).encode(
        x=alt.X("time:T", title=None, axis=alt.Axis(format="%H:%M:%S")),
        y=alt.Y("score_after:Q", title="score", scale=alt.Scale(domain=[0, 100])),
        color=alt.Color("citizen_id:N", title="citizen"),
        tooltip=["citizen_id", "event_type", "delta", "score_after", alt.Tooltip("time:T", format="%H:%M:%S")])
    lines = base.mark_line(point=True, interpolate="step-after")
    interventions = base.transform_filter(alt.datum.intervention).mark_point(
        size=160, filled=True, color="#1a9e3f", opacity=0.9)
    return (lines + interventions).properties(height=280)


def optimizer_scores(metrics: pd.DataFrame) -> alt.Chart | None:
    if metrics.empty:
        return None
    return alt.Chart(metrics).mark_bar(size=18).encode(
        x=alt.X("optimization_score:Q", title="optimization score", scale=alt.Scale(domain=[0, 100])),
        y=alt.Y("citizen_id:N", title=None, sort="-x"),
        color=alt.Color("delegation_efficiency:N", title="delegation"),
        tooltip=["citizen_id", "optimization_score", "delegation_efficiency", "completion_time",
                 "automation_level"]).properties(height=30 * len(metrics) + 10)


def highlighted_events(events: pd.DataFrame) -> Styler:
    """The event table with interventions in green and the events that called for one in red."""

    def colour(row: pd.Series) -> list[str]:
        if row["intervention"]:
            background = INTERVENTION_BG
        elif row["delta"] < BAD_DELTA:
            background = BAD_BG
        else:
            return [""] * len(row)
        return [f"background-color: {background}"] * len(row)

    return events.style.apply(colour, axis=1).format({"delta": "{:+.2f}", "score_after": "{:.2f}"}, na_rep="")


def feed_line(event: pd.Series) -> str:
    """One markdown line of the live feed."""
    when = pd.Timestamp(event["time"]).tz_convert(_tz()).strftime("%H:%M:%S")
    score = "" if pd.isna(event["score_after"]) else f" → score **{event['score_after']:.2f}**"
    text = f"`{when}` #{event['id']} **{event['citizen_id']}** {event['event_type']} {event['delta']:+.2f}{score}"
    if event["intervention"]:
        return f":green-background[{text} (the monitor answering #{event['triggered_by']})]"
    if event["delta"] < BAD_DELTA:
        return f":red-background[{text}]"
    return text
