"""`efficiency-hub up`: Localbase on the hub's project, then the API, the monitor and the dashboard
as child processes; Ctrl+C stops them in reverse order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from efficiency_hub.settings import HubSettings


class StackError(RuntimeError):
    pass


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    url: str | None = None


@dataclass
class Stack:
    project: Path
    children: list[Child] = field(default_factory=list)

    def spawn(self, name: str, argv: list[str], env: dict[str, str], url: str | None = None,
              log: Path | None = None) -> Child:
        out = log.open("ab") if log else None
        proc = subprocess.Popen(argv, env={**os.environ, **env}, cwd=self.project, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT if out else None,
                                start_new_session=True)  # Ctrl+C reaches us; we stop them in order
        child = Child(name, proc, url)
        self.children.append(child)
        return child

    def wait_http(self, child: Child, path: str, timeout: float = 60.0, log: Path | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child.process.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
                raise StackError(f"{child.name} exited with {child.process.returncode}\n{tail}")
            try:
                if httpx.get(f"{child.url}{path}", timeout=1).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise StackError(f"{child.name} did not answer {child.url}{path} within {timeout:.0f}s")

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
                    env: dict[str, str] | None = None) -> HubSettings:
    argv = [sys.executable, "-m", "localbase", "start", "--workdir", str(stack.project),
            "--data-dir", str(data_dir), "--port", str(port), "--workers", str(workers)]
    child = stack.spawn("localbase", argv, {"NO_COLOR": "1", **(env or {})}, f"http://127.0.0.1:{port}", log)
    stack.wait_http(child, "/rest/v1/", timeout=120, log=log)
    import json
    keys = json.loads((data_dir / "keys.json").read_text())
    return HubSettings(child.url or "", keys["anon_key"], keys["service_role_key"])


def hub_env(settings: HubSettings, *, service: bool) -> dict[str, str]:
    env = {"SUPABASE_URL": settings.supabase_url, "SUPABASE_ANON_KEY": settings.anon_key}
    if service and settings.service_role_key:
        env["SUPABASE_SERVICE_ROLE_KEY"] = settings.service_role_key
    return env


def start_api(stack: Stack, settings: HubSettings, host: str, port: int, log: Path) -> Child:
    argv = [sys.executable, "-m", "uvicorn", "efficiency_hub.api:create_app", "--factory",
            "--host", host, "--port", str(port)]
    # the API serves users with their own tokens: it is not given the service-role key
    child = stack.spawn("api", argv, hub_env(settings, service=False), f"http://{host}:{port}", log)
    stack.wait_http(child, "/health", log=log)
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
    stack.wait_http(child, "/_stcore/health", log=log)
    return child
