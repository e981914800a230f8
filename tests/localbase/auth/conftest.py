"""Auth tests: real Localbase servers on tests/localbase/auth/project, driven by supabase-py.

- auth_server: the project as configured (auto-confirm, anonymous sign-ins on, generous limits)
- confirm_server: the same project with email confirmations on (set by environment variable)
- limits_server: low rate limits (environment variables), for the 429 tests only
- smtp_server + smtp_localbase: a minimal SMTP sink, and a server that sends its mails there
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from localbase.testing.plugin import localbase_fixture
from supabase import AsyncClientOptions, ClientOptions, acreate_client, create_client

PROJECT = Path(__file__).parent / "project"
PASSWORD = "correct-horse-1"

auth_server = localbase_fixture(PROJECT, scope="session")
confirm_server = localbase_fixture(PROJECT, scope="session", env={
    "LOCALBASE_AUTH_EMAIL_ENABLE_CONFIRMATIONS": "true",
    "LOCALBASE_AUTH_PASSWORD_REQUIREMENTS": "letters_digits",
    "LOCALBASE_JWT_EXPIRY": "600",
})
limits_server = localbase_fixture(PROJECT, scope="session", env={
    "LOCALBASE_AUTH_RATE_LIMIT_SIGN_IN_SIGN_UPS": "12",
    "LOCALBASE_AUTH_RATE_LIMIT_SIGN_IN_SIGN_UPS_PER_EMAIL": "3",
    "LOCALBASE_AUTH_RATE_LIMIT_OTP_AND_RECOVERY": "1000",
    "LOCALBASE_AUTH_RATE_LIMIT_EMAIL_SENT": "2",
    "LOCALBASE_AUTH_RATE_LIMIT_TOKEN_VERIFICATIONS": "1000",
})


def new_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def client(server, key: str | None = None, **options: Any):
    opts = ClientOptions(auto_refresh_token=False, persist_session=False, **options)
    return create_client(server.url, key or server.anon_key, options=opts)


async def aclient(server, key: str | None = None, **options: Any):
    opts = AsyncClientOptions(auto_refresh_token=False, persist_session=False, **options)
    return await acreate_client(server.url, key or server.anon_key, options=opts)


def admin(server):
    return client(server, server.service_role_key)


def db(server, sql: str, *args: Any, fetch: str = "fetch") -> Any:
    """Run one statement as the superuser (set-up and assertions that bypass the API). Works
    from sync and async tests alike (its own event loop, in a worker thread)."""

    async def run() -> Any:
        conn = await asyncpg.connect(server.db_url)
        try:
            return await getattr(conn, fetch)(sql, *args)
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def mailbox(server, email: str) -> list[dict[str, Any]]:
    """The mails sent to `email`, newest first (Localbase's local mailbox endpoint)."""
    response = httpx.get(f"{server.url}/auth/v1/localbase/mailbox", params={"email": email},
                         headers={"apikey": server.service_role_key})
    response.raise_for_status()
    return response.json()["messages"]


def signed_up(server, email: str | None = None, password: str = PASSWORD, **data: Any):
    """A fresh client signed up (auto-confirm server) -> (client, AuthResponse)."""
    c = client(server)
    response = c.auth.sign_up({"email": email or new_email(), "password": password,
                               "options": {"data": data}})
    return c, response


@pytest.fixture
def anon(auth_server):
    return client(auth_server)


@pytest.fixture
def service(auth_server):
    return admin(auth_server)


class SmtpSink:
    """Just enough of SMTP (RFC 5321) to accept mail: what a real SMTP server would receive."""

    def __init__(self) -> None:
        import socketserver
        import threading

        self.messages: list[dict[str, Any]] = []
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 sink ESMTP\r\n")
                envelope: dict[str, Any] = {"rcpt": []}
                while line := self.rfile.readline():
                    cmd = line.decode().strip()
                    verb = cmd.split(" ")[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.wfile.write(b"250-sink\r\n250 AUTH PLAIN LOGIN\r\n")
                    elif verb == "AUTH":
                        envelope["auth"] = cmd
                        self.wfile.write(b"235 ok\r\n")
                    elif verb == "MAIL":
                        envelope["from"] = cmd
                        self.wfile.write(b"250 ok\r\n")
                    elif verb == "RCPT":
                        envelope["rcpt"].append(cmd)
                        self.wfile.write(b"250 ok\r\n")
                    elif verb == "DATA":
                        self.wfile.write(b"354 go on\r\n")
                        data = []
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data.append(chunk.decode())
                        envelope["data"] = "".join(data)
                        sink.messages.append(envelope)
                        envelope = {"rcpt": []}
                        self.wfile.write(b"250 queued\r\n")
                    elif verb == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def smtp_sink():
    sink = SmtpSink()
    yield sink
    sink.close()


@pytest.fixture(scope="session")
def smtp_localbase(smtp_sink, tmp_path_factory):
    from localbase.testing.server import LocalbaseProcess

    env = {"LOCALBASE_AUTH_SMTP_URL": f"smtp://mailer:s3cret@127.0.0.1:{smtp_sink.port}",
           "LOCALBASE_AUTH_SMTP_ADMIN_EMAIL": "auth@example.org"}
    server = LocalbaseProcess(PROJECT, tmp_path_factory.mktemp("localbase") / "data", env=env)
    server.start()
    try:
        yield server
    finally:
        server.cleanup()
