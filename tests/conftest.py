"""The whole suite: each test session gets a temporary root of its own for tmp_path.

Localbase makes the folders above a data folder traversable (o+x) for the service user its
PostgreSQL runs as (when run as root); pytest sets its shared /tmp/pytest-of-<user> back to 0700
whenever another session starts, which took the way away from a server starting meanwhile (two
sessions at once on one machine: a CI run beside a developer's run)."""

from __future__ import annotations

import os
import shutil
import tempfile

_own_root: list[str] = []


def pytest_configure(config) -> None:
    if os.environ.get("PYTEST_DEBUG_TEMPROOT") or config.option.basetemp:
        return
    root = tempfile.mkdtemp(prefix="lb-tests-")
    _own_root.append(root)
    os.environ["PYTEST_DEBUG_TEMPROOT"] = root


def pytest_unconfigure(config) -> None:
    for root in _own_root:
        shutil.rmtree(root, ignore_errors=True)
        os.environ.pop("PYTEST_DEBUG_TEMPROOT", None)
    _own_root.clear()
