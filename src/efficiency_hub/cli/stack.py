"""`efficiency-hub up`: Localbase on the hub's project, then the API, the monitor and the dashboard
as child processes; Ctrl+C stops them in reverse order.

A child counts as started when it serves: its own process listens on its port and answers there
(not whatever else may hold the port). A child that fails is reported with the cause from its log."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from efficiency_hub.settings import HubSettings


class StackError(RuntimeError):
    pass


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    url: str | None = None
    log: Path | None = None
    log_start: int = 0  # where this run's lines begin in its (appended) log

    def failure(self) -> str:
        """`<name> exited with <code>: <cause from its log>`."""
        text = f"{self.name} exited with {self.process.returncode}"
        if cause := self.cause():
            text += f": {cause}"
        return text + (f" (log: {self.log})" if self.log else "")

    def cause(self) -> str:
        """What this run's lines of its log say about why it failed."""
        if self.log is None or not self.log.exists():
            return ""
        with self.log.open("rb") as fh:
            fh.seek(self.log_start)
            return cause_of(fh.read().decode(errors="replace"))


def cause_of(output: str) -> str:
    """The line of a program's output that says why it failed: the exception raised, else the last
    line naming an error, else the last line."""
    lines = [line for line in (_ANSI.sub("", raw).strip() for raw in output.splitlines()) if line]
    for pattern in (_EXCEPTION, _ERROR):
        found = [line for line in lines if pattern.search(line)]
        if found:
            return found[-1]
    return lines[-1] if lines else ""


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit): ")
_ERROR = re.compile(r"error|in use|failed|refused|denied", re.IGNORECASE)


def check_port(host: str, port: int, option: str) -> None:
    """A port the stack is to listen on: a port number, and free (checked before anything starts)."""
    if not 1 <= port <= 65535:
        raise StackError(f"{option} must be a port number from 1 to 65535, got {port}")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
        try:
            s.bind((host, port))
        except OSError as exc:
            raise StackError(f"port {port} on {host} cannot be used ({exc.strerror or exc}): stop what holds it "
                             f"or choose another with {option}") from None


def listening(pid: int, port: int) -> bool:
    """Whether the process `pid` (or one of its own children) listens on TCP `port`. A process that
    has exited, or that we may not inspect (another user's), does not count."""
    try:
        parent = psutil.Process(pid)
        family = [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return False
    for process in family:
        try:
            connections = process.net_connections("tcp")
        except psutil.Error:
            continue
        if any(conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port for conn in connections):
            return True
    return False


@dataclass
class Stack:
    project: Path
    children: list[Child] = field(default_factory=list)

    def spawn(self, name: str, argv: list[str], env: dict[str, str], url: str | None = None,
              log: Path | None = None) -> Child:
        start = log.stat().st_size if log and log.exists() else 0
        out = log.open("ab") if log else None
        proc = subprocess.Popen(argv, env={**os.environ, **env}, cwd=self.project, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT if out else None,
                                start_new_session=True)  # Ctrl+C reaches us; we stop them in order
        child = Child(name, proc, url, log, start)
        self.children.append(child)
        return child

    def wait_serving(self, child: Child, port: int, path: str, timeout: float = 60.0,
                     ready: Callable[[], bool] = lambda: True) -> None:
        """Until `child` listens on `port` itself and answers `path` there (and `ready()`); a child
        that exits first, or never serves, is a StackError with the cause from its log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child.process.poll() is not None:
                raise StackError(child.failure())
            if listening(child.process.pid, port) and ready() and self._answers(f"{child.url}{path}"):
                return
            time.sleep(0.1)
        cause = child.cause()
        raise StackError(f"{child.name} did not serve {child.url}{path} within {timeout:.0f}s"
                         + (f" (last in its log: {cause})" if cause else ""))

    @staticmethod
    def _answers(url: str) -> bool:
        try:
            return httpx.get(url, timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM if child.name != "localbase" else signal.SIGINT)
        for child in reversed(self.children):
            try:
                child.process.wait(30)
            except subprocess.TimeoutExpired:
                child.process.kill()
        self.children.clear()

    def watch(self) -> Child | None:
        """Blocks until a child exits (returned) or Ctrl+C (None)."""
        try:
            while True:
                for child in self.children:
                    if child.process.poll() is not None:
                        return child
                time.sleep(0.5)
        except KeyboardInterrupt:
            return None


def start_localbase(stack: Stack, port: int, data_dir: Path, log: Path, *, workers: int = 1,
                    db_port: int | None = None, env: dict[str, str] | None = None,
                    studio_port: int | None = None) -> HubSettings:
    """`localbase start` on the hub's project; Studio on `studio_port` (0: any free one), or where
    Localbase's own settings put it (54323 by default)."""
    argv = [sys.executable, "-m", "localbase", "start", "--workdir", str(stack.project),
            "--data-dir", str(data_dir), "--port", str(port), "--workers", str(workers),
            *(["--db-port", str(db_port)] if db_port is not None else []),
            *(["--studio-port", str(studio_port)] if studio_port is not None else [])]
    child = stack.spawn("localbase", argv, {"NO_COLOR": "1", **(env or {})}, f"http://127.0.0.1:{port}", log)

    def announced() -> bool:  # Localbase writes its state once every API worker serves
        try:
            return json.loads((data_dir / "server.json").read_text())["pid"] == child.process.pid
        except (OSError, ValueError, KeyError):
            return False

    stack.wait_serving(child, port, "/health", timeout=120, ready=announced)
    keys = json.loads((data_dir / "keys.json").read_text())
    return HubSettings(child.url or "", keys["anon_key"], keys["service_role_key"])


def studio_url(data_dir: Path) -> str | None:
    """Where the running Localbase serves Studio (as it announced it), None when Studio is off."""
    return json.loads((data_dir / "server.json").read_text()).get("studio_url")


def hub_env(settings: HubSettings, *, service: bool) -> dict[str, str]:
    env = {"SUPABASE_URL": settings.supabase_url, "SUPABASE_ANON_KEY": settings.anon_key}
    if service and settings.service_role_key:
        env["SUPABASE_SERVICE_ROLE_KEY"] = settings.service_role_key
    return env


def api_argv(host: str, port: int, *, access_log: bool = False) -> list[str]:
    """The hub API as a server: uvicorn (uvloop and httptools), one process; uvicorn's line per
    request only with `access_log`."""
    argv = [sys.executable, "-m", "uvicorn", "efficiency_hub.api:create_app", "--factory",
            "--host", host, "--port", str(port)]
    return argv if access_log else [*argv, "--no-access-log"]


def start_api(stack: Stack, settings: HubSettings, host: str, port: int, log: Path, *,
              access_log: bool = False) -> Child:
    argv = api_argv(host, port, access_log=access_log)
    # the API serves users with their own tokens: it is not given the service-role key
    child = stack.spawn("api", argv, hub_env(settings, service=False), f"http://{host}:{port}", log)
    stack.wait_serving(child, port, "/health")
    return child


def start_monitor(stack: Stack, settings: HubSettings, extra: list[str] | None = None,
                  log: Path | None = None) -> Child:
    argv = [sys.executable, "-m", "efficiency_hub.cli.main", "monitor", *(extra or [])]
    return stack.spawn("monitor", argv, hub_env(settings, service=True), log=log)


def start_dashboard(stack: Stack, settings: HubSettings, port: int, log: Path, host: str = "127.0.0.1") -> Child:
    """The Streamlit dashboard. It is given the service-role key, for the operator sign-in (which
    asks for that key again); citizens' queries carry their own tokens."""
    from efficiency_hub.dashboard import APP

    argv = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
            "--server.address", host, "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    child = stack.spawn("dashboard", argv, hub_env(settings, service=True), f"http://{host}:{port}", log)
    stack.wait_serving(child, port, "/_stcore/health")
    return child
