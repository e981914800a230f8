"""/metrics with several API workers (`localbase start --workers N`).

A scrape lands on any one worker, which must answer for all of them. Each worker writes its own
samples (as data, not text) every WRITE_SECONDS, and once more when it stops, to
<data folder>/metrics/worker-<index>.json (written whole, then renamed into place). The worker
that is scraped renders its own samples live and the others' from their files, every sample
labelled `worker="<index>"`, each family once (HELP, TYPE, then the samples of every worker), and
adds the gauge `localbase_workers`.

A file not rewritten for STALE_SECONDS belongs to a worker that is dead (and not yet started
again) or hung: it is left out, so its series go stale in Prometheus rather than repeat old
values. A worker started again counts from zero under the same label, which Prometheus reads as
a counter reset (rate() and increase() handle it). Files of an index >= N (a deployment that ran
more workers before) are ignored.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Any

import orjson

from localbase.gateway import metrics
from localbase.process import tasks, workers

log = logging.getLogger("localbase.gateway")
WRITE_SECONDS = 1.0
STALE_SECONDS = 10.0


def folder(settings) -> Path:
    return settings.data_dir / "metrics"


def snapshot(app) -> dict[str, Any]:
    state = app.state
    return {"index": workers.current().index, "pid": os.getpid(), "written_at": time.time(),
            "families": metrics.collect(state.metrics, state).families}


def write(app) -> None:
    where = folder(app.state.settings)
    where.mkdir(parents=True, exist_ok=True)
    path = where / f"worker-{workers.current().index}.json"
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(orjson.dumps(snapshot(app)))
    os.replace(tmp, path)


def read_others(app, now: float | None = None) -> list[dict[str, Any]]:
    """The other live workers' snapshots, by index."""
    me, count = workers.current().index, workers.current().count
    now = now or time.time()
    found = []
    for index in range(count):
        if index == me:
            continue
        try:
            snap = orjson.loads((folder(app.state.settings) / f"worker-{index}.json").read_bytes())
        except (OSError, orjson.JSONDecodeError):
            continue
        if now - snap.get("written_at", 0) <= STALE_SECONDS:
            found.append(snap)
    return found


def merge(snapshots: list[dict[str, Any]], count: int) -> dict[str, dict[str, Any]]:
    """One set of families from several workers' snapshots, each sample labelled with its worker."""
    merged: dict[str, dict[str, Any]] = {
        "localbase_workers": {"kind": "gauge", "help": "API worker processes of this server.",
                              "samples": [("localbase_workers", {}, count)]}}
    for snap in sorted(snapshots, key=lambda s: s["index"]):
        worker = str(snap["index"])
        for name, family in snap["families"].items():
            into = merged.setdefault(name, {"kind": family["kind"], "help": family["help"], "samples": []})
            for sample, labels, value in family["samples"]:
                into["samples"].append((sample, {"worker": worker, **labels}, value))
    return merged


def render_all(app) -> str:
    own = snapshot(app)
    return metrics.render_families(merge([own, *read_others(app, own["written_at"])], workers.current().count))


async def _writer(app) -> None:
    while True:
        await asyncio.sleep(WRITE_SECONDS)
        try:
            write(app)
        except OSError as exc:
            log.warning("could not write this worker's metrics for the others: %s", exc)


async def startup(app) -> None:
    """From the gateway's lifespan: with several workers, share this one's samples."""
    app.state.metrics_writer = None
    if workers.current().several:
        write(app)
        app.state.metrics_writer = asyncio.create_task(_writer(app), name="metrics-writer")


async def shutdown(app) -> None:
    task = getattr(app.state, "metrics_writer", None)
    if task is not None:
        await tasks.cancel(task)
        try:
            write(app)
        except OSError as exc:
            log.warning("could not write this worker's last metrics: %s", exc)
