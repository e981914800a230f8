"""A throwaway cluster of the system's PostgreSQL (Debian's postgresql packages), for tests that need
what the embedded build lacks (PostGIS): Localbase then runs on it with `--db-url`, as a user would.
.ci/run installs the packages; where they are missing, `find()` says which and the tests skip."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from localbase.testing.server import free_port

POSTGRES_ROOT = Path("/usr/lib/postgresql")


def find(extension: str | None = None) -> tuple[Path | None, str]:
    """(the bin folder of the newest system PostgreSQL having `extension`, or None and why not)."""
    for bindir in sorted(POSTGRES_ROOT.glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True):
        version = bindir.parent.name
        if extension is None or Path(f"/usr/share/postgresql/{version}/extension/{extension}.control").exists():
            return bindir, ""
    wanted = f"postgresql with {extension} (apt-get install postgresql postgis)" if extension else "postgresql"
    return None, f"no system {wanted}: see .ci/run"


class Cluster:
    """initdb + postgres on a free port, trusting local connections; as user `postgres` when run as root."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="localbase-syspg-"))
        self.data = self.folder / "data"
        self.process: subprocess.Popen | None = None
        self.user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if self.user is not None:
            os.chown(self.folder, self.user.pw_uid, self.user.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> subprocess.Popen:
        ids = {"user": self.user.pw_uid, "group": self.user.pw_gid} if self.user else {}
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **ids)  # type: ignore[call-overload]

    def start(self) -> Cluster:
        init = self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                         "-E", "UTF8")
        out, _ = init.communicate(timeout=120)
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {out.decode(errors='replace')}")
        self.process = self._run(str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
                                 "-k", str(self.folder), "-c", "listen_addresses=127.0.0.1", "-c", "wal_level=logical",
                                 "-c", "max_connections=100", "-c", "fsync=off")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready = subprocess.run([str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                                   capture_output=True)
            if ready.returncode == 0:
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited: {self.process.stdout.read().decode(errors='replace')}")  # type: ignore[union-attr]
            time.sleep(0.1)
        raise TimeoutError("the system PostgreSQL did not become ready")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
