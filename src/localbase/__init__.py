"""Localbase: Supabase's APIs (REST, Auth, Realtime, Functions) on an embedded PostgreSQL."""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("efficiency-hub")  # the distribution that ships localbase
except _metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
    __version__ = "0+unknown"
