"""Realtime tests: a real Localbase on tests/localbase/realtime/project, driven by the official
async supabase-py client (acreate_client) - its realtime client speaks to /realtime/v1."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from localbase.testing.plugin import localbase_fixture
from supabase import AsyncClientOptions, acreate_client
from tests.localbase.helpers import user_token

PROJECT = Path(__file__).parent / "project"
DBHOST = Path(__file__).parent / "dbhost"

realtime_server = localbase_fixture(PROJECT, scope="session")


class Inbox:
    """What a callback received, with a way to wait for it."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = asyncio.Event()

    def __call__(self, *args) -> None:
        self.items.append(args[0] if len(args) == 1 else args)
        self._changed.set()

    async def wait_for(self, n: int, timeout: float = 5.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while len(self.items) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"expected {n} messages, got {len(self.items)}: {self.items!r}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                pass
        return self.items

    def records(self, key: str = "record") -> list[dict]:
        return [p["data"][key] for p in self.items]


async def client(server, token: str | None = None):
    """An async supabase client with the anon key; `token`: a user's access token."""
    c = await acreate_client(server.url, server.anon_key,
                             options=AsyncClientOptions(auto_refresh_token=False, persist_session=False))
    if token:
        await c.realtime.set_auth(token)
    return c


async def subscribed(c, topic: str, status: Inbox | None = None, **binding) -> tuple[Any, Inbox]:
    """A channel on `topic` with one postgres_changes binding, subscribed; returns (channel, inbox)."""
    inbox = Inbox()
    status = status or Inbox()
    ch = c.channel(topic).on_postgres_changes(binding.pop("event", "*"), inbox, **binding)
    await ch.subscribe(status)
    assert status.items and status.items[-1][0] == "SUBSCRIBED", status.items
    return ch, inbox


def new_user(server) -> tuple[str, str]:
    uid = str(uuid.uuid4())
    return uid, user_token(server, uid)


@pytest.fixture
async def db(realtime_server):
    conn = await asyncpg.connect(realtime_server.db_url)
    yield conn
    await conn.close()


@pytest.fixture
async def clients():
    """Collects the clients a test opens and closes their sockets at the end."""
    made = []
    yield made
    for c in made:
        await c.realtime.close()


def topic() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"
