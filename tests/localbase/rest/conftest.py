"""Fixtures of the REST tests."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.localbase.helpers import sql


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the schema cache reloads in the background
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"not picked up in time: {what}")


@pytest.fixture
def pgrst_setting(localbase_server):
    """pgrst_setting(name, value, in_effect): PostgREST's in-database config, as a project sets it
    (`alter role authenticator set pgrst.<name> = ...` + `notify pgrst, 'reload config'`); waits
    until in_effect() holds, and after the test resets it and waits until it no longer does."""
    changed: list[tuple[str, Callable[[], bool]]] = []

    def _set(name: str, value: str, in_effect: Callable[[], bool]) -> None:
        sql(localbase_server, f"alter role authenticator set pgrst.{name} = '{value}'")
        sql(localbase_server, "notify pgrst, 'reload config'")
        changed.append((name, in_effect))
        _wait(in_effect, f"pgrst.{name} = {value}")

    yield _set
    for name, in_effect in changed:
        sql(localbase_server, f"alter role authenticator reset pgrst.{name}")
        sql(localbase_server, "notify pgrst, 'reload config'")
        _wait(lambda: not in_effect(), f"pgrst.{name} reset")  # noqa: B023 - called at once
