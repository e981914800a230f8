"""Localbase servers a test starts itself (its own project, data folder, environment), stopped at
the end whatever happened - with the embedded PostgreSQL of a server the test killed."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from localbase.testing.server import LocalbaseProcess


def _postmaster(server: LocalbaseProcess) -> int | None:
    try:
        return int((server.data_dir / "pgdata" / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


class Servers:
    def __init__(self) -> None:
        self.made: list[LocalbaseProcess] = []

    def __call__(self, project: Path | str, **kw) -> LocalbaseProcess:
        server = LocalbaseProcess(project, **kw)
        self.made.append(server)
        return server

    def cleanup(self) -> None:
        for server in self.made:
            server.stop()
            pid = _postmaster(server)
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            server.cleanup()


@pytest.fixture
def servers():
    made = Servers()
    yield made
    made.cleanup()
