"""Studio's sessions, CSRF tokens and login rate limit (Studio runs in one process: in memory).

A session is a random id in an HttpOnly, SameSite=Strict cookie (Secure over TLS); it carries a
CSRF token every mutation must send back (form field or X-CSRF-Token header). Without a configured
password a loopback Studio hands every browser a session at once; with one, a session is
authenticated only by the login form, which allows FAILURES wrong passwords per client address
per WINDOW seconds and GLOBAL_FAILURES from all addresses together."""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from dataclasses import dataclass, field

SESSION_SECONDS = 12 * 3600
MAX_SESSIONS = 1000
WINDOW = 300.0
FAILURES = 5
GLOBAL_FAILURES = 50


@dataclass
class Session:
    id: str
    csrf: str
    authenticated: bool
    expires: float
    data: dict = field(default_factory=dict)  # per-session page state (e.g. the realtime inspector's relays)

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(token.encode(), self.csrf.encode())  # type: ignore[union-attr]


class Sessions:
    def __init__(self, seconds: float = SESSION_SECONDS) -> None:
        self.seconds = seconds
        self.by_id: dict[str, Session] = {}

    def new(self, authenticated: bool) -> Session:
        if len(self.by_id) >= MAX_SESSIONS:
            self._prune()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), authenticated,
                          time.time() + self.seconds)
        self.by_id[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        session = self.by_id.get(session_id)
        if session is None:
            return None
        if session.expires < time.time():
            self.by_id.pop(session_id, None)
            return None
        return session

    def drop(self, session_id: str) -> Session | None:
        return self.by_id.pop(session_id, None)

    def _prune(self) -> None:
        now = time.time()
        for sid in [s for s, v in self.by_id.items() if v.expires < now]:
            del self.by_id[sid]
        while len(self.by_id) >= MAX_SESSIONS:  # the oldest go first (dicts keep insertion order)
            del self.by_id[next(iter(self.by_id))]


class LoginLimiter:
    def __init__(self, failures: int = FAILURES, window: float = WINDOW, global_failures: int = GLOBAL_FAILURES):
        self.failures, self.window, self.global_failures = failures, window, global_failures
        self.by_client: dict[str, deque[float]] = {}
        self.all: deque[float] = deque()

    def wait(self, client: str, now: float | None = None) -> float:
        """Seconds before `client` may try again (0: now)."""
        now = time.monotonic() if now is None else now
        waits = [0.0]
        for times, limit in ((self.by_client.get(client), self.failures), (self.all, self.global_failures)):
            if times is None:
                continue
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= limit:
                waits.append(times[0] + self.window - now)
        return max(waits)

    def failed(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if len(self.by_client) > 10_000:
            self.by_client.clear()
        self.by_client.setdefault(client, deque()).append(now)
        self.all.append(now)

    def succeeded(self, client: str) -> None:
        self.by_client.pop(client, None)
