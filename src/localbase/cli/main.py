"""`localbase`: init / start / status / stop / db reset / migration new."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shlex
import signal
import time
from pathlib import Path
from typing import Annotated

import typer

from localbase.cli.terminal import LazyConsole, escape, handle_stop_signals, plain, print_plain_values, print_values
from localbase.database.cluster import Cluster, redact
from localbase.database.embedded import EmbeddedPostgresError
from localbase.database.migrations import MigrationError, new_migration
from localbase.process import server
from localbase.process.workers import MAX_WORKERS
from localbase.settings import Settings, SettingsError, load_settings, require_project

app = typer.Typer(help="Localbase: Supabase's APIs on an embedded PostgreSQL.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database commands.", no_args_is_help=True)
migration_app = typer.Typer(help="Migration files.", no_args_is_help=True)
functions_app = typer.Typer(help="Functions in supabase/functions/<name>/.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(migration_app, name="migration")
app.add_typer(functions_app, name="functions")
gen_app = typer.Typer(help="Generate code from the database.", no_args_is_help=True)
app.add_typer(gen_app, name="gen")
console = LazyConsole()
err = LazyConsole(stderr=True, soft_wrap=True)  # an error is one line, whatever the width

Workdir = Annotated[Path, typer.Option("--workdir", help="Project folder (holds supabase/).")]
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data folder [default: <workdir>/.localbase]")]


def _settings(workdir: Path, data_dir: Path | None = None, *, any_database: bool = False, **kw) -> Settings:
    """The project's settings. `any_database`: the command also works on a database URL alone
    (--db-url / DATABASE_URL), without supabase/ (the folder must still exist)."""
    try:
        require_project(workdir, supabase=not (any_database and (kw.get("db_url") or os.environ.get("DATABASE_URL"))))
        return load_settings(workdir, data_dir=data_dir, **kw)
    except SettingsError as exc:
        err.print(f"[red]configuration error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None


def _check_service_settings(settings: Settings) -> None:
    """Every service's settings, checked before anything starts: a bad value is one line, exit 1."""
    from localbase.service_settings import load_service_settings
    try:
        load_service_settings(settings)
    except SettingsError as exc:
        err.print(f"[red]configuration error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None


@app.command()
def init(workdir: Workdir = Path(".")) -> None:
    """Create supabase/config.toml, supabase/migrations/ and supabase/seed.sql."""
    from localbase.cli.scaffold import scaffold_project
    for path in scaffold_project(workdir):
        console.print(f"[green]created[/green] {path}")


@app.command()
def start(
    workdir: Workdir = Path("."),
    data_dir: DataDir = None,
    port: Annotated[int | None, typer.Option(help="API port [default: 54321]")] = None,
    db_port: Annotated[int | None, typer.Option(help="Embedded database port [default: 54322]")] = None,
    db_url: Annotated[str | None, typer.Option(help="Use this PostgreSQL instead of the embedded one "
                                                  "(or set DATABASE_URL).")] = None,
    workers: Annotated[int, typer.Option(min=1, max=MAX_WORKERS, help="API processes sharing the port "
                                         "(see docs/deployment.md, 'Several workers').")] = 1,
    node_id: Annotated[str | None, typer.Option(help="This node's name when several Localbase nodes share one "
                                                  "database (or LOCALBASE_NODE_ID; see docs/scale-out.md).")] = None,
    db_read_url: Annotated[list[str] | None, typer.Option(help="A read replica of --db-url for GET requests "
                                                          "(repeatable; or LOCALBASE_DB_READ_URLS).")] = None,
    log_level: Annotated[str | None, typer.Option(
        help="debug, info, warning or error [default: warning; info with --log-format json]")] = None,
    log_format: Annotated[str | None, typer.Option(
        help="text or json: one JSON object per line (or LOCALBASE_LOG_FORMAT) [default: text]")] = None,
    access_log: Annotated[bool | None, typer.Option(
        "--access-log/--no-access-log", help="One log line per request [default: on with json logs]")] = None,
    studio_port: Annotated[int | None, typer.Option(help="Studio's port, 0 for any free one [default: 54323]")] = None,
    studio_host: Annotated[str | None, typer.Option(
        help="Studio's listen address; beyond loopback it needs [studio] password_hash [default: 127.0.0.1]")] = None,
    studio: Annotated[bool | None, typer.Option("--studio/--no-studio", help="Serve Studio, the admin web page "
                                                "[default: on; [studio] enabled]")] = None,
) -> None:
    """Start the stack in the foreground (Ctrl+C stops it cleanly)."""
    from localbase import logs
    handle_stop_signals()
    settings = _settings(workdir, data_dir, port=port, db_port=db_port, db_url=db_url, log_format=log_format,
                         access_log=access_log, node_id=node_id, db_read_urls=db_read_url,
                         studio_port=studio_port, studio_host=studio_host, studio=studio)
    _check_service_settings(settings)
    logs.configure(settings.log_format, log_level, access_log=settings.access_log)
    if settings.log_format == "json":
        return _start_json(settings, workers)
    running = server.read_state(settings)
    if running:
        err.print(f"[red]Localbase is already running[/red] for {settings.data_dir} (pid {running['pid']}).")
        raise typer.Exit(1)
    status = _NoStatus() if plain() else console.status("starting…", spinner="dots")
    status.start()

    def ready(r: server.Ready) -> None:
        status.stop()
        _print_ready(r)

    try:
        server.run(settings, workers=workers, on_ready=ready, on_phase=lambda m: status.update(m + "…"))
    except (EmbeddedPostgresError, MigrationError, SettingsError, OSError) as exc:
        status.stop()
        err.print(f"[red]error:[/red] {escape(str(exc))}")  # messages name config sections, [studio] ...
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        status.stop()
        err.print("[yellow]interrupted while starting:[/yellow] Localbase stopped.")
        raise typer.Exit(1) from None
    finally:
        status.stop()
    if plain():
        print("Localbase stopped.", flush=True)
    else:
        console.print("[dim]Localbase stopped.[/dim]")


def _start_json(settings: Settings, workers: int) -> None:
    """`start` with JSON logs: events instead of a banner, and never a key or secret."""
    log = logging.getLogger("localbase.server")
    running = server.read_state(settings)
    if running:
        log.error("already running", extra={"event": "start_refused", "data_dir": str(settings.data_dir),
                                             "pid": running["pid"]})
        raise typer.Exit(1)

    def ready(r: server.Ready) -> None:
        log.info("Localbase started", extra={
            "event": "started", "api_url": r.settings.api_url, "db_url": redact(r.db_url), "studio_url": r.studio_url,
            "mode": r.settings.mode, "workers": workers, "node": r.settings.nodes.node_id or None,
            "migrations_applied": [m.path.name for m in r.report.applied],
            "seeded": r.report.seeded, "startup_seconds": round(r.started_in, 3)})

    try:
        server.run(settings, workers=workers, on_ready=ready,
                   on_phase=lambda m: log.info(m, extra={"event": "phase"}))
    except (EmbeddedPostgresError, MigrationError, SettingsError, OSError) as exc:
        log.error(str(exc), extra={"event": "start_failed"})
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        log.warning("interrupted while starting", extra={"event": "start_interrupted"})
        raise typer.Exit(1) from None
    log.info("Localbase stopped", extra={"event": "stopped"})


class _NoStatus:
    """What console.status shows when stdout is not a terminal: nothing (rich left unimported)."""

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def update(self, _message: str) -> None:
        pass


def _print_ready(r: server.Ready) -> None:
    s = r.settings
    report = r.report
    what = [f"{len(report.applied)} migration(s) applied"]
    if report.seeded:
        what.append("seed applied")
    if r.workers > 1:
        what.append(f"{r.workers} API workers")
    if s.nodes.node_id:
        what.append(f"node {s.nodes.node_id}")
    hidden = {name: "(hidden in production mode: localbase status -o env)" for name in SECRET_VALUES}
    values = _status_values(s, r.db_url, r.studio_url)
    if plain():  # as rich prints to a file or a pipe, without importing it
        print(f"Localbase started in {r.started_in:.2f}s ({', '.join(what)}).")
        print_plain_values(values, hidden=hidden if s.mode == "production" else None)
        print("Press Ctrl+C to stop.", flush=True)
        return
    console.print(f"[bold green]Localbase started[/bold green] in {r.started_in:.2f}s ({', '.join(what)}).")
    print_values(console, values, hidden=hidden if s.mode == "production" else None)
    console.print("[dim]Press Ctrl+C to stop.[/dim]")


SECRET_VALUES = ("JWT_SECRET", "SERVICE_ROLE_KEY", "SECRET_KEY", "DB_URL")  # DB_URL holds the superuser's password


def _status_values(s: Settings, db_url: str, studio_url: str | None = None) -> dict[str, str]:
    return {
        "API_URL": s.api_url,
        "STUDIO_URL": studio_url or "(off)",
        "REST_URL": f"{s.api_url}/rest/v1",
        "AUTH_URL": f"{s.api_url}/auth/v1",
        "REALTIME_URL": f"ws://{s.host}:{s.port}/realtime/v1",
        "FUNCTIONS_URL": f"{s.api_url}/functions/v1",
        "STORAGE_URL": f"{s.api_url}/storage/v1",
        "DB_URL": db_url,
        "JWT_SECRET": s.jwt_secret,
        "ANON_KEY": s.anon_key,
        "SERVICE_ROLE_KEY": s.service_role_key,
        "PUBLISHABLE_KEY": s.publishable_key,
        "SECRET_KEY": s.secret_key,
    }


@app.command()
def status(
    workdir: Workdir = Path("."),
    data_dir: DataDir = None,
    output: Annotated[str, typer.Option("-o", "--output", help="pretty, env (NAME=\"value\" lines, as "
                                        "`supabase status -o env`; for .env files), shell (export lines: "
                                        "eval \"$(localbase status -o shell)\") or json")] = "pretty",
) -> None:
    """Show the running stack's URLs and keys."""
    settings = _settings(workdir, data_dir)
    state = server.read_state(settings)
    if state is None:
        err.print(f"Localbase is not running for {settings.data_dir}. Start it with [bold]localbase start[/bold].")
        raise typer.Exit(1)
    from dataclasses import replace
    from urllib.parse import urlsplit
    api = urlsplit(state["api_url"])
    settings = replace(settings, host=api.hostname or settings.host, port=api.port or settings.port)
    values = _status_values(settings, state["db_url"], state.get("studio_url"))
    if output == "env":
        for name, value in values.items():
            print(f'{name}="{value}"')
    elif output == "shell":  # exported, so that programs started from this shell see them
        for name, value in values.items():
            print(f"export {name}={shlex.quote(value)}")
    elif output == "json":
        print(json.dumps(values, indent=2))
    elif output == "pretty":
        console.print(f"[bold]Localbase[/bold] (pid {state['pid']})")
        print_values(console, values)
    else:
        err.print("--output must be pretty, env, shell or json")
        raise typer.Exit(2)


@app.command()
def stop(workdir: Workdir = Path("."), data_dir: DataDir = None,
         timeout: Annotated[float, typer.Option(help="Seconds to wait.")] = 30.0) -> None:
    """Stop a running stack (sends SIGTERM and waits)."""
    settings = _settings(workdir, data_dir)
    state = server.read_state(settings)
    if state is None:
        console.print("Localbase is not running.")
        return
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    with console.status(f"stopping Localbase (pid {pid})…"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not server.process_alive(pid):
                console.print("[green]stopped[/green]")
                return
            time.sleep(0.05)
    err.print(f"[red]Localbase (pid {pid}) did not stop within {timeout:.0f}s[/red]")
    raise typer.Exit(1)


def _on_database(settings: Settings, status_text: str, work):
    """Run `work(cluster)` against the project's database: the running server's, or the embedded
    one started for the occasion (and stopped after)."""
    state = server.read_state(settings)
    running = state is not None
    if state is not None and not settings.db_url:
        from dataclasses import replace
        settings = replace(settings, db_port=int(state["db_port"]))  # the running server's database
    cluster = Cluster(settings)
    with err.status(status_text):  # stderr: stdout may be a generated file
        try:
            if not running:
                cluster.start()
            return asyncio.run(work(cluster))
        except (EmbeddedPostgresError, MigrationError, OSError) as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None
        finally:
            if not running:
                cluster.stop()


@db_app.command("reset")
def db_reset(workdir: Workdir = Path("."), data_dir: DataDir = None,
             db_url: Annotated[str | None, typer.Option(help="Reset this database instead.")] = None) -> None:
    """Drop and re-create the database, then apply every migration and supabase/seed.sql."""
    settings = _settings(workdir, data_dir, db_url=db_url)
    report = _on_database(settings, "resetting the database…", lambda cluster: cluster.reset())
    for m in report.applied:
        console.print(f"[green]applied[/green] {m.path.name}")
    console.print(f"[bold green]database reset[/bold green]: {len(report.applied)} migration(s)"
                  + (", seed applied" if report.seeded else ""))


@gen_app.command("types")
def gen_types(
    lang: Annotated[str, typer.Option(help="typescript or python")] = "typescript",
    schema: Annotated[list[str] | None,
                      typer.Option(help="Schema(s) to describe [default: config's api.schemas]")] = None,
    workdir: Workdir = Path("."), data_dir: DataDir = None,
    db_url: Annotated[str | None, typer.Option(help="Describe this database instead.")] = None,
) -> None:
    """Print types for the database: supabase-js's `Database` type, or Python TypedDicts."""
    from localbase.typegen import model, python, typescript
    renderers = {"typescript": typescript.render, "python": python.render}
    if lang not in renderers:
        err.print("--lang must be typescript or python")
        raise typer.Exit(2)
    settings = _settings(workdir, data_dir, db_url=db_url)
    schemas = tuple(schema or settings.api_schemas)

    async def describe(cluster):
        await cluster.prepare()  # migrations applied, as the types must match them
        return await model.load(cluster.admin_dsn, schemas)

    described = _on_database(settings, "reading the schema…", describe)
    print(renderers[lang](described), end="")


@gen_app.command("signing-key")
def gen_signing_key(
    algorithm: Annotated[str, typer.Option(help="ES256 or RS256")] = "ES256",
    append: Annotated[bool, typer.Option(help="Rotate: add it to [auth] signing_keys_path's file, where it "
                                              "signs from the next start and the others only verify")] = False,
    workdir: Workdir = Path("."),
) -> None:
    """A new JWT signing key (a private JWK set), as `supabase gen signing-key`: printed, or with
    --append written to the file [auth] signing_keys_path names (mode 0600)."""
    from localbase.security import signing_keys
    from localbase.settings import read_config_toml
    try:
        key = signing_keys.generate(algorithm.upper())
    except signing_keys.SigningKeyError as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None
    if not append:
        print(json.dumps([key], indent=2))
        return
    name = read_config_toml(workdir.resolve()).get("auth", {}).get("signing_keys_path")
    if not name:
        err.print("--append needs [auth] signing_keys_path in supabase/config.toml")
        raise typer.Exit(2)
    path = workdir.resolve() / "supabase" / name
    current = json.loads(path.read_text()) if path.exists() else []
    current = current.get("keys", []) if isinstance(current, dict) else current
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(signing_keys.rotated(current, key), fh, indent=2)
    err.print(f"{path}: {key['kid']} ({key['alg']}) signs from the next start; {len(current)} older key(s) verify")


@migration_app.command("new")
def migration_new(name: str, workdir: Workdir = Path(".")) -> None:
    """Create supabase/migrations/<timestamp>_<name>.sql."""
    settings = _settings(workdir, with_keys=False)
    try:
        path = new_migration(settings.migrations_dir, name)
    except (ValueError, FileExistsError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"[green]created[/green] {path}")


@functions_app.command("new")
def functions_new(
    name: str,
    workdir: Workdir = Path("."),
    lang: Annotated[str, typer.Option("--lang", help="python (index.py) or ts (index.ts, a Supabase Edge "
                                      "Function for Deno that deploys to Supabase unchanged)")] = "python",
) -> None:
    """Create supabase/functions/<name>/index.py (or index.ts with --lang ts), served at /functions/v1/<name>."""
    from localbase.cli.scaffold import scaffold_function
    settings = _settings(workdir, with_keys=False)
    try:
        path = scaffold_function(settings.functions_dir, name, lang=lang)
    except (ValueError, FileExistsError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"[green]created[/green] {path}  → POST {settings.api_url}/functions/v1/{name}")


from localbase.cli import backup as _backup  # noqa: E402,F401 - registers `db dump` and `db restore`
from localbase.cli import doctor as _doctor  # noqa: E402,F401 - registers `doctor`
from localbase.cli import studio as _studio  # noqa: E402,F401 - registers `studio hash-password`

if __name__ == "__main__":
    app()
