"""`localbase db dump` and `localbase db restore` (registered on main's `db` group)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from localbase.backup import ops, tools
from localbase.backup.config import BackupConfig
from localbase.cli.main import DataDir, Workdir, _settings, console, db_app, err
from localbase.cli.target import describe, project_database
from localbase.database.embedded import EmbeddedPostgresError
from localbase.database.migrations import MigrationError
from localbase.settings import SettingsError

if TYPE_CHECKING:
    from rich.progress import Progress

DbUrl = Annotated[str | None, typer.Option(help="This database instead of the project's (or set DATABASE_URL).")]


def _progress() -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err.real(), transient=True)


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


@db_app.command("dump")
def dump(
    file: Annotated[Path | None, typer.Option("-f", "--file", help="Write here [default: "
                    "<[backup] dir or .>/localbase-<database>-<UTC time>.dump]")] = None,
    fmt: Annotated[str, typer.Option("--format", help="custom (pg_restore's archive) or plain (SQL)")] = "custom",
    workdir: Workdir = Path("."), data_dir: DataDir = None, db_url: DbUrl = None,
) -> None:
    """Dump the database (the running server's, or DATABASE_URL) with pg_dump."""
    settings = _settings(workdir, data_dir, db_url=db_url, any_database=True)
    if fmt not in tools.FORMATS:
        err.print("--format must be custom or plain")
        raise typer.Exit(2)
    try:
        backup = BackupConfig.from_settings(settings)
        with project_database(settings) as cluster:
            url = cluster.admin_dsn
            database = tools.Connection.from_url(url).database
            if file is None:
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
                folder = backup.dir if settings.section("backup") else Path.cwd()
                file = folder / f"localbase-{database}-{stamp}.{'dump' if fmt == 'custom' else 'sql'}"
            started = time.monotonic()
            total = asyncio.run(ops.count_tables(url))
            with _progress() as progress:
                task = progress.add_task(f"dumping {describe(cluster)}", total=total or None)
                written = tools.dump(url, file, fmt, on_table=lambda name: progress.advance(task))
    except (tools.BackupError, EmbeddedPostgresError, SettingsError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"[bold green]dump written[/bold green] {written} ({_size(written.stat().st_size)}, "
                  f"{total} tables, {time.monotonic() - started:.1f}s)")


@db_app.command("restore")
def restore(
    file: Annotated[Path, typer.Argument(help="A dump from `localbase db dump` (custom or plain format).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    workdir: Workdir = Path("."), data_dir: DataDir = None, db_url: DbUrl = None,
) -> None:
    """Replace the database with a dump: drop and re-create it, load the dump, then apply bootstrap
    and any migration newer than the dump."""
    settings = _settings(workdir, data_dir, db_url=db_url, any_database=True)
    if not file.is_file():
        err.print(f"[red]error:[/red] no dump at {file}")
        raise typer.Exit(2)
    try:
        with project_database(settings) as cluster:
            target = describe(cluster)
            if not yes and not typer.confirm(f"This replaces every table of {target} with {file.name}. "
                                             f"Continue?", err=True):
                raise typer.Exit(1)
            started = time.monotonic()
            total = tools.archive_tables(file)
            with _progress() as progress:
                task = progress.add_task(f"restoring {file.name}", total=total or None)
                applied = ops.restore(cluster, file, on_table=lambda name: progress.advance(task))
    except (tools.BackupError, EmbeddedPostgresError, MigrationError, SettingsError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"[bold green]restored[/bold green] {file} into {target} ({total} tables, "
                  f"{applied} newer migration(s) applied, {time.monotonic() - started:.1f}s)")
