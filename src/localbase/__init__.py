"""Localbase: Supabase's APIs (REST, Auth, Realtime, Functions) on an embedded PostgreSQL."""

from __future__ import annotations

from functools import cache


@cache
def _version() -> str:
    from importlib import metadata
    try:
        return metadata.version("efficiency-hub")  # the distribution that ships localbase
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "0+unknown"


def __getattr__(name: str) -> str:
    """`__version__` read on first use: importlib.metadata (~50 ms of every start) is loaded then."""
    if name == "__version__":
        return _version()
    raise AttributeError(f"module 'localbase' has no attribute {name!r}")
