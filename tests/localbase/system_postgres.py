"""The system's PostgreSQL (Debian's postgresql packages), for tests that need what the embedded build
lacks (PostGIS): Localbase then runs on it with `--db-url`, as a user would, on a throwaway server
(localbase.testing.postgres.PostgresServer with these binaries). .ci/run installs the packages;
where they are missing, `find()` says which and the tests skip."""

from __future__ import annotations

from pathlib import Path

from localbase.testing.postgres import SYSTEM_ROOT


def find(extension: str | None = None) -> tuple[Path | None, str]:
    """(the bin folder of the newest system PostgreSQL having `extension`, or None and why not)."""
    for bindir in sorted(SYSTEM_ROOT.glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True):
        version = bindir.parent.name
        if extension is None or Path(f"/usr/share/postgresql/{version}/extension/{extension}.control").exists():
            return bindir, ""
    wanted = f"postgresql with {extension} (apt-get install postgresql postgis)" if extension else "postgresql"
    return None, f"no system {wanted}: see .ci/run"
