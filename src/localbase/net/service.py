"""The pg_net sender's start-up and shutdown in the gateway's lifespan, and its metrics.

It runs in every API worker: rows are claimed with FOR UPDATE SKIP LOCKED, so the workers (and
other Localbase servers on the same database) share the queue and each request is sent by one."""

from __future__ import annotations

import logging
from dataclasses import replace

from localbase.gateway import metrics
from localbase.net.sender import Sender
from localbase.process import workers

log = logging.getLogger("localbase.net")
ROLE = "supabase_functions_admin"


def _collect(w, state) -> None:
    sender: Sender | None = getattr(state, "net", None)
    if sender is None:
        return
    w.family("localbase_net_requests_total", "counter", "pg_net requests sent, by outcome.")
    for outcome in ("answered", "timed_out", "failed"):
        w.sample("localbase_net_requests_total", sender.stats[outcome], outcome=outcome)
    w.family("localbase_net_responses_pruned_total", "counter", "Responses deleted after pg_net.ttl.")
    w.sample("localbase_net_responses_pruned_total", sender.stats["pruned"])


async def startup(app) -> None:
    from localbase.database.cluster import Cluster
    settings = app.state.settings
    config = app.state.services.net
    app.state.net = None
    if not config.enabled:
        log.info("net: the pg_net sender is disabled ([net] enabled = false)")
        return
    # the lanes are the server's: its workers share them (each worker's connections count too)
    worker = workers.current()
    config = replace(config, lanes=max(1, round(config.lanes / worker.count)))
    db = getattr(app.state, "db", None)
    sender = Sender(Cluster(settings).role_dsn(ROLE), config, getattr(db, "listener", None))
    await sender.start()
    app.state.net = sender
    metrics.add_collector(_collect)


async def shutdown(app) -> None:
    sender: Sender | None = getattr(app.state, "net", None)
    if sender is not None:
        app.state.net = None
        await sender.stop()
