"""Localbase's own tests run against one real server on the test project in tests/localbase/project."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import pytest

from localbase.process import workers
from localbase.testing.plugin import localbase_fixture
from tests.localbase.helpers import run_sync, user_token

PROJECT = Path(__file__).parent / "project"

localbase_server = localbase_fixture(PROJECT)


@pytest.fixture(scope="session")
def make_user(localbase_server):
    """Create a row in auth.users (as GoTrue would) and return (id, access token)."""
    def _make(email: str | None = None) -> tuple[str, str]:
        user_id = str(uuid.uuid4())

        async def insert() -> None:
            conn = await asyncpg.connect(localbase_server.db_url)
            try:
                await conn.execute(
                    "insert into auth.users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data, "
                    "created_at, updated_at) values ($1, 'authenticated', 'authenticated', $2, '{}', '{}', "
                    "now(), now())", uuid.UUID(user_id), email or f"{user_id}@example.com")
            finally:
                await conn.close()

        run_sync(insert)
        return user_id, user_token(localbase_server, user_id)

    return _make


@pytest.fixture
def as_worker(monkeypatch):
    """as_worker(index, count): this process is then API worker `index` of `count`, as `localbase
    start --workers N` sets it; a single process again after the test."""
    def _as(index: int, count: int) -> None:
        monkeypatch.setenv(workers.ENV_COUNT, str(count))
        monkeypatch.setenv(workers.ENV_INDEX, str(index))
        workers.current.cache_clear()

    yield _as
    workers.current.cache_clear()  # the environment is restored after this (monkeypatch's teardown)
