"""REST reads on read replicas, and the marks that keep a session's reads on the primary after it
wrote (database/replicas.py has the rule). Only used when --db-read-url is given."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from localbase.database.replicas import ReadRouter, session_key
from localbase.rest.errors import RestError
from localbase.rest.execute import Caller, caller_from

T = TypeVar("T")
READS = ("GET", "HEAD", "OPTIONS")


def _client(scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


def _header(scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def mark_if_writing(router: ReadRouter | None, scope, keyring: Any) -> None:
    """After a request that may have written (any service), mark its session."""
    if router is None or scope.get("method") in READS:
        return
    try:
        session = caller_from(_header(scope, b"authorization"), keyring).session
    except RestError:  # a token the service refused: nothing of it was written
        return
    router.wrote(session_key(session, _client(scope)))


async def read(router: ReadRouter | None, db, caller: Caller, request, schema_version: int,
               run: Callable[[Any], Awaitable[T]]) -> T:
    """`run(target)` on a replica fresh enough for this caller, else on the primary `db` (also when
    the replica turns out to be unavailable)."""
    if router is None or "tx=" in (request.headers.get("prefer") or ""):
        return await run(db)
    if schema_version != router.schema_version:  # the schema changed: replicas must have replayed it
        router.schema_version = schema_version
        router.wrote_everything()
    replica = router.reader(session_key(caller.session, _client(request.scope)))
    if replica is None:
        return await run(db)
    try:
        return await run(replica)
    except RestError as err:
        if err.status != 503:
            raise
        router.failed(replica)
        return await run(db)
