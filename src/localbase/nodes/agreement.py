"""What a starting node must agree on with the running ones, checked before it serves:

- the keys: a token one node signs must verify on every other, and an apikey one accepts must be
  accepted by all. Each process records a fingerprint of its keys in localbase.nodes
  (membership.py); a node starting with other keys refuses to start, saying which node differs
  (the keys themselves never leave the process);
- its node id: not one a running node already has (two nodes would share replication slots)."""

from __future__ import annotations

import hashlib
import hmac

import asyncpg
import orjson

from localbase.settings import Settings, SettingsError

LABEL = b"localbase node keys v1"


class KeysDiffer(SettingsError):
    """This node's keys are not those of the nodes already running."""


class NodeIdInUse(SettingsError):
    """A running node has this node's id."""


def fingerprint(settings: Settings) -> str:
    """16 hex digits over the JWT secret, the opaque keys and the signing keys' public halves."""
    material = orjson.dumps({
        "secret": settings.jwt_secret, "publishable": settings.publishable_key, "secret_key": settings.secret_key,
        "signing": sorted((k.kid, k.signs, orjson.dumps(k.public_jwk(), option=orjson.OPT_SORT_KEYS).decode())
                          for k in settings.keyring.keys),
    }, option=orjson.OPT_SORT_KEYS)
    return hmac.new(LABEL, material, hashlib.sha256).hexdigest()[:16]


async def check(conn: asyncpg.Connection, settings: Settings) -> None:
    """Raise NodeIdInUse when a running process has this node's id, KeysDiffer when a running node
    holds other keys than `settings`."""
    if not await conn.fetchval("select to_regclass('localbase.node_status') is not null"):
        return
    node = settings.nodes.node_id
    same = await conn.fetchrow("select host, pid, api_url from localbase.node_status where alive and node = $1 "
                               "limit 1", node) if node else None  # unnamed ones: refused by slot, if they clash
    if same is not None:
        raise NodeIdInUse(f"node {node} is already running on {same['host']} (pid {same['pid']}, {same['api_url']}): "
                          f"give each node its own --node-id")
    rows = await conn.fetch("select node, host, api_url from localbase.node_status "
                            "where alive and node <> $1 and keys <> $2", settings.nodes.node_id, fingerprint(settings))
    if rows:
        names = ", ".join(f"{r['node'] or '(unnamed)'} on {r['host']} ({r['api_url']})" for r in rows)
        raise KeysDiffer(f"this node's keys differ from those of the running node(s) {names}: every node needs the "
                         f"same JWT secret, publishable and secret keys and signing keys (LOCALBASE_JWT_SECRET, "
                         f"LOCALBASE_PUBLISHABLE_KEY, LOCALBASE_SECRET_KEY, [auth] signing_keys_path)")
