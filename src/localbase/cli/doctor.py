"""`localbase doctor` (registered on main's app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from localbase.cli.main import DataDir, Workdir, app, console, err
from localbase.cli.terminal import escape
from localbase.settings import SettingsError, require_project


@app.command()
def doctor(
    workdir: Workdir = Path("."), data_dir: DataDir = None,
    db_url: Annotated[str | None, typer.Option(help="Check this database (or set DATABASE_URL) "
                                                  "[default: the running server's]")] = None,
    api_url: Annotated[str | None, typer.Option(help="Check this API's /health [default: the running "
                                                   "server's]")] = None,
    production: Annotated[bool | None, typer.Option(
        "--production/--development", help="Hold the deployment to production's requirements "
        "[default: [localbase] mode or LOCALBASE_MODE]")] = None,
    strict: Annotated[bool, typer.Option(help="Warnings fail too.")] = False,
    output: Annotated[str, typer.Option("-o", "--output", help="pretty or json")] = "pretty",
) -> None:
    """Check a deployment: RLS on every exposed table, a strong JWT secret, auth and backups fit for
    production, the realtime publication, migrations applied. Exits 1 on a failure."""
    if output not in ("pretty", "json"):
        err.print("--output must be pretty or json")
        raise typer.Exit(2)
    from localbase.doctor import exit_code, load_doctor_settings, render, run_checks, to_json
    try:
        require_project(workdir)
        settings = load_doctor_settings(workdir, data_dir=data_dir, db_url=db_url)
        checks = run_checks(settings, api_url=api_url.rstrip("/") if api_url else None, production=production)
    except SettingsError as exc:
        err.print(f"[red]configuration error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    if output == "json":
        print(to_json(checks, strict))
    else:
        render(checks, console.real())
    raise typer.Exit(exit_code(checks, strict))
