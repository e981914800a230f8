"""The embedded PostgreSQL's superuser password, and who may reach the server at all.

- TCP (127.0.0.1 only) asks for a password, checked with scram-sha-256. The `postgres` role's
  password is generated once per data folder and kept in `<data>/db_password` (mode 0600), in
  development as in production: a well-known password on a loopback port is a superuser for
  every account on the machine, and the embedded PostgreSQL runs as the account that runs
  Localbase (COPY ... TO PROGRAM would run as it). `[db] password` in supabase/localbase.toml
  (or LOCALBASE_DB_PASSWORD) chooses another; production refuses a weak one.
- The Unix socket lives in a folder only the server's OS account may enter (0700), and answers
  only the OS account that runs Localbase (peer authentication with an ident map): no `trust`.

pg_hba.conf and pg_ident.conf are written at every start, so a data folder made by an earlier
version is brought up to this on its first start (see docs/security.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

PASSWORD_FILE = "db_password"
SCRAM_ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)
MIN_PRODUCTION_LENGTH = 16
IDENT_MAP = "localbase"
# Passwords published in docs, templates and tutorials: never acceptable in production.
WELL_KNOWN_PASSWORDS = frozenset({
    "postgres", "password", "postgrespassword", "postgres_password", "root", "admin", "secret", "changeme",
    "your-super-secret-and-long-postgres-password",  # Supabase's docker/.env.example
    "change-me",  # deploy/localbase.env.example here
})
HBA = """\
# Written by Localbase at every start: edits here are replaced (see docs/security.md).
# The socket answers only the OS account that runs Localbase (map "{map}" in pg_ident.conf);
# TCP listens on 127.0.0.1 only and asks for a password. No `trust`.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 peer map={map}
host    all       all   127.0.0.1/32  scram-sha-256
"""
IDENT = """\
# Written by Localbase at every start: edits here are replaced (see docs/security.md).
# MAPNAME  SYSTEM-USERNAME  PG-USERNAME
{map}  {os_user}  all
"""


def weak_password_reason(password: str) -> str | None:
    """Why `password` is unfit for production, or None."""
    if password.lower() in WELL_KNOWN_PASSWORDS:
        return "a well-known password"
    if len(password) < MIN_PRODUCTION_LENGTH:
        return f"{len(password)} characters; at least {MIN_PRODUCTION_LENGTH} needed"
    return None


def load_or_create(data_dir: Path) -> str:
    """The generated password in `<data_dir>/db_password` (0600), made on first use."""
    path = data_dir / PASSWORD_FILE
    try:
        stored = path.read_text().strip()
    except FileNotFoundError:
        stored = ""
    if stored:
        os.chmod(path, 0o600)  # a copy restored with looser modes is tightened
        return stored
    password = secrets.token_urlsafe(32)
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    os.replace(tmp, path)
    return password


def scram_verifier(password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """What PostgreSQL stores for a scram-sha-256 password (RFC 5802 / 7677), computed here so
    that the password itself is never in an SQL statement (nor in a log line about one). The
    password must be printable ASCII (SASLprep leaves it unchanged then; settings ensure it)."""
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def hba() -> str:
    return HBA.format(map=IDENT_MAP)


def ident(os_user: str) -> str:
    return IDENT.format(map=IDENT_MAP, os_user=os_user)


def write_access_files(pgdata: Path, os_user: str, hand_over: Callable[[Path], None]) -> None:
    """pg_hba.conf and pg_ident.conf as above (0600, handed to the server's OS account)."""
    for name, text in (("pg_hba.conf", hba()), ("pg_ident.conf", ident(os_user))):
        path = pgdata / name
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        hand_over(tmp)
        os.replace(tmp, path)


def tighten_folder(folder: Path) -> None:
    """No read or write for group and others on the data folder and its files (keys, password,
    logs, state). Earlier versions left it 0755; traversal (x) stays, for a service account."""
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & 0o066:
        folder.chmod(mode & ~0o066)
    for entry in folder.iterdir():
        if entry.is_symlink() or not entry.is_file():
            continue
        mode = stat.S_IMODE(entry.stat().st_mode)
        if mode & 0o077:
            entry.chmod(mode & ~0o077)


def private_folder(folder: Path, owner: int) -> None:
    """Make `folder` (the socket's) if needed; raise ValueError (its path and why) when it is not
    a real folder or belongs to an account other than `owner` (root's own are taken over)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode):
        raise ValueError(f"{folder} is not a folder (a link?)")
    if info.st_uid != owner and not (os.geteuid() == 0 and info.st_uid == 0):
        raise ValueError(f"{folder} belongs to another account (uid {info.st_uid})")
