"""Which database a command works on: DATABASE_URL (or --db-url), else the running server's
embedded one (its port from server.json, as `localbase status` reads it), else the project's
embedded one started for the occasion (and stopped after)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace

from localbase.database.cluster import Cluster
from localbase.process import server
from localbase.settings import Settings


class NotRunning(Exception):
    """The project's embedded database is not running, and the command will not start it."""


@contextlib.contextmanager
def project_database(settings: Settings, *, start: bool = True) -> Iterator[Cluster]:
    state = server.read_state(settings)
    if state is not None and not settings.db_url:
        settings = replace(settings, db_port=int(state["db_port"]))
    cluster = Cluster(settings)
    started = False
    if cluster.embedded and state is None:
        if not start:
            raise NotRunning(f"Localbase is not running for {settings.data_dir}, and no DATABASE_URL is set")
        cluster.start()
        started = True
    try:
        yield cluster
    finally:
        if started:
            cluster.stop()


def describe(cluster: Cluster) -> str:
    """The database, for messages: its URL without a password."""
    return cluster.public_url
