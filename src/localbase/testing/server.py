"""A real Localbase server in a child process, for tests and benchmarks.

It runs the same `localbase start` a user runs, on a data folder of its own and free ports."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import httpx

from localbase.database import orphans


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ProjectKeys:
    """A test server's keys by name, from its `key_map()` (keys.json, or a deployment's shared keys)."""

    def key_map(self) -> dict[str, str]:
        raise NotImplementedError

    @property
    def anon_key(self) -> str:
        return self.key_map()["anon_key"]

    @property
    def service_role_key(self) -> str:
        return self.key_map()["service_role_key"]

    @property
    def publishable_key(self) -> str:
        return self.key_map()["publishable_key"]

    @property
    def secret_key(self) -> str:
        return self.key_map()["secret_key"]

    @property
    def jwt_secret(self) -> str:
        return self.key_map()["jwt_secret"]


# what `localbase start` says when a port it was given is taken: its own check before it starts
# (cli: the ports are checked first), or a bind that lost the race after that check (uvicorn's
# "error while attempting to bind on address ...: address already in use", PostgreSQL's
# "could not bind ... Address already in use")
PORT_TAKEN = re.compile(r"port \d+ for .* (cannot be used|is in use)|address already in use", re.IGNORECASE)

class LocalbaseProcess(ProjectKeys):
    def __init__(self, project_dir: Path | str, data_dir: Path | str | None = None, *,
                 port: int | None = None, db_port: int | None = None, env: dict[str, str] | None = None,
                 extra_args: list[str] | None = None, new_session: bool = False, studio_port: int | None = None):
        self.project_dir = Path(project_dir).resolve()
        self._tmp = None if data_dir else tempfile.TemporaryDirectory(prefix="localbase-")
        self.data_dir = Path(data_dir or self._tmp.name).resolve()  # type: ignore[union-attr]
        self.port = port or free_port()
        self.db_port = db_port or free_port()
        self.studio_port = studio_port or free_port()  # Studio, the admin web page, on a port of its own
        # ports picked here may be taken by someone else before the server binds them (free_port
        # only saw them free): then start() picks others and tries again
        self._own_ports = port is None and db_port is None and studio_port is None
        self.env = env or {}
        self.extra_args = extra_args or []
        self.new_session = new_session  # a process group of its own (killed as a whole by LocalbaseNodes.kill)
        self.process: subprocess.Popen | None = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.server.log" if data_dir else \
            self.data_dir / "server.log"

    # -- what a client needs -------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def studio_url(self) -> str:
        return f"http://127.0.0.1:{self.studio_port}"

    @property
    def keys(self) -> dict[str, str]:
        return json.loads((self.data_dir / "keys.json").read_text())

    def key_map(self) -> dict[str, str]:
        return self.keys

    @property
    def db_password(self) -> str:
        """The superuser's password: the running server's (its DB_URL), else LOCALBASE_DB_PASSWORD
        when the test sets one, else the one Localbase generated in the data folder."""
        try:
            url = json.loads((self.data_dir / "server.json").read_text())["db_url"]
            if urlsplit(url).password is not None:
                return unquote(urlsplit(url).password or "")
        except (OSError, ValueError, KeyError):
            pass
        return self.env.get("LOCALBASE_DB_PASSWORD") or (self.data_dir / "db_password").read_text().strip()

    @property
    def db_url(self) -> str:
        """Superuser URL (TCP), for test set-up and assertions that must bypass the API."""
        return f"postgresql://postgres:{quote(self.db_password, safe='')}@127.0.0.1:{self.db_port}/postgres"

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> LocalbaseProcess:
        retries = 2
        while True:
            try:
                return self._start(timeout)
            except RuntimeError as exc:
                if not (self._own_ports and retries and PORT_TAKEN.search(str(exc))):
                    raise
            retries -= 1
            self.stop()  # the exited process: its log file closed before the next start opens it
            self.port, self.db_port, self.studio_port = free_port(), free_port(), free_port()

    def _start(self, timeout: float) -> LocalbaseProcess:
        cmd = [sys.executable, "-m", "localbase", "start", "--workdir", str(self.project_dir),
               "--data-dir", str(self.data_dir), "--port", str(self.port), "--db-port", str(self.db_port),
               "--studio-port", str(self.studio_port), *self.extra_args]
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **self.env}
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, env=env, start_new_session=self.new_session)
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"localbase exited with {self.process.returncode}:\n{self.output()}")
            try:
                if self._announced() and httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"localbase not healthy after {timeout}s:\n{self.output()}")

    def _announced(self) -> bool:
        """The server wrote its state file: every API worker serves (with --workers N, /health
        answers as soon as the first one does)."""
        try:
            return self.process is not None and \
                json.loads((self.data_dir / "server.json").read_text())["pid"] == self.process.pid
        except (OSError, ValueError, KeyError, AttributeError):
            return False

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> int | None:
        proc, self.process = self.process, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._log.close()
        return proc.returncode

    def kill(self) -> None:
        """kill -9, for fault tests."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
            self._log.close()

    def cleanup(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._wait_database_gone()
            self._tmp.cleanup()

    def _wait_database_gone(self, timeout: float = 30.0) -> None:
        """After a kill -9 the embedded PostgreSQL notices its parent is gone on its own time and
        writes WAL until then: removing the data folder under it fails ('pg_wal' not empty)."""
        pid = orphans.lock_pid(self.data_dir / "pgdata" / "postmaster.pid")
        if pid is not None and not orphans.wait_exit(pid, timeout):
            os.kill(pid, signal.SIGKILL)  # a test's own throw-away database
            orphans.wait_exit(pid, 5.0)

    def __enter__(self) -> LocalbaseProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()
