"""The whole suite: each test session gets a temporary root of its own for tmp_path.

Localbase makes the folders above a data folder traversable (o+x) for the service user its
PostgreSQL runs as (when run as root); pytest sets its shared /tmp/pytest-of-<user> back to 0700
whenever another session starts, which took the way away from a server starting meanwhile (two
sessions at once on one machine: a CI run beside a developer's run).

The session's servers share a cache of their own for the cluster template (LOCALBASE_CACHE_DIR,
database/template_cache.py) under that root, unless one is given: the first server of a run starts
on plain initdb and makes the template, later ones start from copies, and nothing a run leaves in the
user's cache decides what the next run tests."""

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
    if "LOCALBASE_CACHE_DIR" not in os.environ:
        os.environ["LOCALBASE_CACHE_DIR"] = os.path.join(root, "cache")


def pytest_unconfigure(config) -> None:
    for root in _own_root:
        shutil.rmtree(root, ignore_errors=True)
        os.environ.pop("PYTEST_DEBUG_TEMPROOT", None)
        if os.environ.get("LOCALBASE_CACHE_DIR") == os.path.join(root, "cache"):
            os.environ.pop("LOCALBASE_CACHE_DIR", None)
    _own_root.clear()
