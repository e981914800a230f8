"""Settings for running several Localbase nodes on one PostgreSQL (docs/scale-out.md).

A node is one `localbase start` (with all its `--workers`). In supabase/localbase.toml:

    [nodes]
    id = "web1"                      # LOCALBASE_NODE_ID or --node-id; each node its own
    heartbeat_seconds = 1.0          # LOCALBASE_NODES_HEARTBEAT_SECONDS
    lease_seconds = 10.0             # a node silent this long is gone (its subscriptions may resume elsewhere)
    drop_slots_after_seconds = 600   # gone this long: the others drop its replication slots

    [db]
    read_urls = ["postgresql://...replica1/postgres"]   # LOCALBASE_DB_READ_URLS (comma-separated) or --db-read-url
    read_max_lag_seconds = 5.0       # a replica further behind than this serves no read
    read_your_writes_seconds = 10.0  # how long a session that wrote is remembered (to send its reads to the primary)
    role_secret = "env(ROLE_SECRET)" # LOCALBASE_DB_ROLE_SECRET: the login roles' passwords are derived from it
                                     # (settings.py; default: from the --db-url password)

Only the node id differs between nodes; the rest (and the keys, see security/key_settings.py)
must be the same on all of them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from localbase.config_values import SettingsError, parse_seconds

NODE_ID = re.compile(r"[a-z0-9][a-z0-9_]{0,23}")
WORKER_SUFFIX = re.compile(r"(.*_)?w[0-9]+")  # `<slot>_w<k>` names worker k's slot: a node id may not look like it


class NodeSettingsError(ValueError):
    """A [nodes] / read replica setting is wrong; the message says which."""


@dataclass(frozen=True)
class NodeSettings:
    node_id: str = ""  # "" : a single node (slot names as before nodes existed)
    heartbeat_seconds: float = 1.0
    lease_seconds: float = 10.0
    drop_slots_after_seconds: float = 600.0

    @property
    def named(self) -> bool:
        return bool(self.node_id)


@dataclass(frozen=True)
class ReadReplicaSettings:
    urls: tuple[str, ...] = ()
    max_lag_seconds: float = 5.0
    read_your_writes_seconds: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.urls)


def _number(where: str, raw: Any, default: float, minimum: float) -> float:
    """A duration setting: seconds, or the one duration format ("500ms", "5s", "10m")."""
    if raw is None or raw == "":
        return default
    try:
        value = parse_seconds(raw, where, minimum=-1)
    except SettingsError as exc:
        raise NodeSettingsError(str(exc)) from None
    if value < minimum:
        raise NodeSettingsError(f"{where} must be at least {minimum:g}, got {value:g}")
    return value


def node_settings(section: dict[str, Any], node_id: str | None = None) -> NodeSettings:
    """[nodes] with LOCALBASE_NODE_ID / LOCALBASE_NODES_* over it, and --node-id over all."""
    raw_id = node_id or os.environ.get("LOCALBASE_NODE_ID") or section.get("id") or ""
    if raw_id and not NODE_ID.fullmatch(str(raw_id)):
        raise NodeSettingsError(f"node id {raw_id!r} (--node-id / LOCALBASE_NODE_ID / [nodes] id): 1 to 24 "
                                f"lower-case letters, digits and _, starting with a letter or digit")
    if raw_id and WORKER_SUFFIX.fullmatch(str(raw_id)):
        raise NodeSettingsError(f"node id {raw_id!r} ends like a worker's slot suffix (w<digits>): choose another")

    def num(name: str, default: float, minimum: float) -> float:
        env = f"LOCALBASE_NODES_{name.upper()}"
        return _number(f"{env} / [nodes] {name}", os.environ.get(env) or section.get(name), default, minimum)

    settings = NodeSettings(str(raw_id), num("heartbeat_seconds", 1.0, 0.1), num("lease_seconds", 10.0, 0.5),
                            num("drop_slots_after_seconds", 600.0, 1.0))
    if settings.lease_seconds < 2 * settings.heartbeat_seconds:
        raise NodeSettingsError("[nodes] lease_seconds must be at least twice heartbeat_seconds "
                                "(a node would look gone between two heartbeats)")
    return settings


def read_replica_settings(db: dict[str, Any], urls: list[str] | tuple[str, ...] | None = None) -> ReadReplicaSettings:
    """--db-read-url (repeatable) over LOCALBASE_DB_READ_URLS (comma-separated) over [db] read_urls."""
    if urls:
        found = list(urls)
    elif os.environ.get("LOCALBASE_DB_READ_URLS"):
        found = [u.strip() for u in os.environ["LOCALBASE_DB_READ_URLS"].split(",") if u.strip()]
    else:
        found = db.get("read_urls", [])
        if isinstance(found, str):
            found = [found]
    if not isinstance(found, list) or not all(isinstance(u, str) for u in found):
        raise NodeSettingsError("[db] read_urls must be a list of PostgreSQL URLs")
    for url in found:
        if not url.startswith(("postgres://", "postgresql://")):
            raise NodeSettingsError("a read replica URL (--db-read-url / LOCALBASE_DB_READ_URLS / [db] read_urls) "
                                    "must start with postgresql://")
    return ReadReplicaSettings(
        tuple(found),
        _number("LOCALBASE_DB_READ_MAX_LAG_SECONDS / [db] read_max_lag_seconds",
                os.environ.get("LOCALBASE_DB_READ_MAX_LAG_SECONDS") or db.get("read_max_lag_seconds"), 5.0, 0.0),
        _number("LOCALBASE_DB_READ_YOUR_WRITES_SECONDS / [db] read_your_writes_seconds",
                os.environ.get("LOCALBASE_DB_READ_YOUR_WRITES_SECONDS") or db.get("read_your_writes_seconds"),
                10.0, 0.0))

