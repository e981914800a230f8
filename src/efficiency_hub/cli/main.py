"""The `efficiency-hub` command: up, demo, monitor."""

from __future__ import annotations

import asyncio
import signal
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from efficiency_hub.cli.project import chosen_backend, discover, project_dir
from efficiency_hub.errors import HubError
from efficiency_hub.models import Clearance
from efficiency_hub.settings import HubSettings, MissingSettings

app = typer.Typer(help="The Efficiency Hub: start it, watch it, try it.", no_args_is_help=True,
                  add_completion=False)
console = Console()

Workdir = Annotated[Path | None, typer.Option("--workdir", help="the folder holding supabase/")]
DataDir = Annotated[Path | None, typer.Option(help="Localbase's data folder [default: <workdir>/.localbase]")]


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)  # one line, whatever the width
    return typer.Exit(1)


@app.command()
def up(workdir: Workdir = None,
       port: Annotated[int, typer.Option(help="Localbase's API port")] = 54321,
       db_port: Annotated[int | None, typer.Option(help="the embedded PostgreSQL's port [default: 54322]")] = None,
       api_port: Annotated[int, typer.Option(help="the hub API's port")] = 8000,
       host: Annotated[str, typer.Option(help="where the hub API and the dashboard listen")] = "127.0.0.1",
       monitor: Annotated[bool, typer.Option(help="run the live monitor")] = True,
       dashboard: Annotated[bool, typer.Option(help="run the live dashboard (Streamlit)")] = True,
       dashboard_port: Annotated[int, typer.Option(help="the dashboard's port")] = 8501,
       data_dir: DataDir = None,
       workers: Annotated[int, typer.Option(
           min=1, max=8, help="Localbase's API processes (localbase start --workers)")] = 1,
       kafka: Annotated[str | None, typer.Option(
           help="Kafka's bootstrap servers (HOST:PORT): stream efficiency_events to the topic "
                "efficiency.events and run the monitor as a Kafka consumer group (docs/kafka.md)")] = None,
       studio_port: Annotated[int | None, typer.Option(
           help="Localbase Studio's port, 0 for any free one [default: Localbase's, 54323]")] = None,
       access_log: Annotated[bool, typer.Option(
           help="log each hub API request (a line in logs/api.log; off by default, as Localbase's "
                "text logs: it costs about a tenth of the API's CPU per request)")] = False,
       ) -> None:
    """Start Localbase on the hub's project, the hub API, the live monitor and the dashboard
    (Ctrl+C stops all)."""
    from efficiency_hub.cli.doctor import STATE_FILE, write_state
    from efficiency_hub.cli.stack import (
        Stack,
        StackError,
        check_port,
        start_api,
        start_dashboard,
        start_localbase,
        start_monitor,
        studio_url,
    )
    from localbase.cli.terminal import handle_stop_signals

    handle_stop_signals()  # also when started in the background, where SIGINT comes in ignored
    try:
        project = project_dir(workdir)
        check_port("127.0.0.1", port, "--port")
        if db_port is not None:
            check_port("127.0.0.1", db_port, "--db-port")
        if studio_port:
            check_port("127.0.0.1", studio_port, "--studio-port")
        check_port(host, api_port, "--api-port")
        if dashboard:
            check_port(host, dashboard_port, "--dashboard-port")
    except (FileNotFoundError, StackError) as exc:
        raise _fail(str(exc)) from None
    data = (data_dir or project / ".localbase").resolve()
    data.mkdir(parents=True, exist_ok=True)
    logs = data / "logs"
    logs.mkdir(exist_ok=True)
    stack = Stack(project)
    try:
        with console.status("starting Localbase (PostgreSQL, migrations, API)..."):
            settings = start_localbase(stack, port, data, logs / "localbase.log", workers=workers, db_port=db_port,
                                       env={"LOCALBASE_KAFKA_BOOTSTRAP_SERVERS": kafka} if kafka else None,
                                       studio_port=studio_port)
        with console.status("starting the hub API..."):
            api = start_api(stack, settings, host, api_port, logs / "api.log", access_log=access_log)
        board = None
        if dashboard:
            with console.status("starting the dashboard..."):
                board = start_dashboard(stack, settings, dashboard_port, logs / "dashboard.log", host)
        if monitor:
            start_monitor(stack, settings, ["--source", "kafka", "--kafka-bootstrap", kafka] if kafka else [])
        write_state(data, api_url=api.url, dashboard_url=board.url if board else None)
        _announce(project, settings, api.url or "", board.url if board else None, logs, monitor,
                  studio_url(data))
        ended = stack.watch()
        if ended is not None:
            raise _fail(ended.failure())
    except StackError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail("interrupted while starting") from None
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl+C must not cut the clean stop short
            signal.signal(sig, signal.SIG_IGN)
        with console.status("stopping..."):
            stack.stop()
        (data / STATE_FILE).unlink(missing_ok=True)
    console.print("stopped.")


def _announce(project: Path, settings: HubSettings, api_url: str, dashboard_url: str | None, logs: Path,
              monitor: bool, studio_url: str | None) -> None:
    from localbase.cli.terminal import print_values

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    rows = [("Hub API", f"{api_url}   (docs: {api_url}/docs)"),
            *([("Dashboard", dashboard_url)] if dashboard_url else []),
            ("Supabase URL", settings.supabase_url),
            *([("Studio", studio_url)] if studio_url else []),
            ("Project", str(project)),
            ("Logs", str(logs))]
    for name, value in rows:
        table.add_row(name, escape(value))
    console.print(Panel(table, title="[bold green]Efficiency Hub is up", subtitle="Ctrl+C stops everything",
                        expand=False))
    # outside the panel, whole, each on a line of its own: to be copied
    print_values(console, {"ANON_KEY": settings.anon_key, "SERVICE_ROLE_KEY": settings.service_role_key or ""})
    if monitor:
        console.print("[dim]live monitor: events appear below as they happen[/]")


@app.command()
def demo(workdir: Workdir = None, data_dir: DataDir = None) -> None:
    """Run the hub's scenario end to end against the running stack (or a temporary Localbase)."""
    from efficiency_hub.cli.demo import run_demo

    settings = chosen_backend(workdir, data_dir)
    if settings is None and data_dir is not None:
        raise _fail(f"no Localbase is running with the data folder {data_dir}: "
                    f"start it with `efficiency-hub up --data-dir {data_dir}`")
    try:
        if settings is not None:
            run_demo(settings, console)
            return
        from efficiency_hub.cli.stack import cause_of
        from localbase.testing.server import LocalbaseProcess

        console.print("[dim]no running stack found: starting a temporary Localbase for the demo[/]")
        with tempfile.TemporaryDirectory(prefix="efficiency-hub-demo-") as tmp:
            server = LocalbaseProcess(project_dir(workdir), Path(tmp) / "data")
            try:
                with console.status("starting a temporary Localbase..."):
                    server.start(timeout=120)
            except (RuntimeError, TimeoutError) as exc:
                raise _fail(f"the temporary Localbase did not start: {cause_of(str(exc))}") from None
            try:
                run_demo(HubSettings(server.url, server.anon_key, server.service_role_key), console)
            finally:
                server.cleanup()
    except (HubError, MissingSettings, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None


@app.command("monitor")
def monitor_command(workdir: Workdir = None,
                    threshold: Annotated[float, typer.Option(help="intervene below this delta")] = -10.0,
                    boost: Annotated[float, typer.Option(help="the intervention's delta")] = 15.0,
                    source: Annotated[str, typer.Option(help="realtime, or kafka (a consumer group)")] = "realtime",
                    kafka_bootstrap: Annotated[str | None, typer.Option(
                        help="Kafka's bootstrap servers [default: KAFKA_BOOTSTRAP_SERVERS]")] = None,
                    topic: Annotated[str, typer.Option(
                        help="the Kafka topic of efficiency_events")] = "efficiency.events",
                    group: Annotated[str, typer.Option(help="the Kafka consumer group")] = "efficiency-monitor",
                    ) -> None:
    """Watch efficiency events live and answer bad ones (needs the service-role key). With
    --source kafka, every monitor of one --group shares the topic's partitions."""
    from efficiency_hub.clients import service_client
    from efficiency_hub.monitor import Monitor

    settings = discover(workdir)
    if settings is None:
        raise _fail("no backend: set SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY, or start `efficiency-hub up`")
    if source not in ("realtime", "kafka"):
        raise _fail("--source must be realtime or kafka")
    kafka = None
    if source == "kafka":
        from efficiency_hub.kafka_events import KafkaSettings
        try:
            kafka = KafkaSettings.from_env(kafka_bootstrap, topic, group)
        except ValueError as exc:
            raise _fail(str(exc)) from None

    async def watch() -> None:
        from efficiency_hub.kafka_events import KafkaEvents
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        watcher = Monitor(await service_client(settings), threshold=threshold, boost=boost, console=console)
        events = KafkaEvents(watcher, kafka) if kafka else watcher  # where the events come from
        await events.start()
        where = (f"{kafka.topic} on {kafka.bootstrap_servers} as group {kafka.group_id}" if kafka
                 else f"efficiency_events on {settings.supabase_url}")
        console.print(f"[green]monitoring[/] {where} (intervening below {threshold:g} with {boost:+g})")
        try:
            await events.process(stop)
        finally:
            await events.close()
            if kafka is None:
                await watcher.client.realtime.close()
        console.print(f"monitor stopped: {watcher.handled} events, {watcher.interventions} interventions")

    try:
        asyncio.run(watch())
    except (HubError, MissingSettings, RuntimeError, TimeoutError, OSError, ValueError) as exc:
        raise _fail(f"{exc} ({exc.hint})" if isinstance(exc, HubError) and exc.hint else str(exc)) from None


@app.command()
def doctor(workdir: Workdir = None,
           data_dir: DataDir = None,
           api_url: Annotated[str | None, typer.Option(help="the hub API [default: the one `up` started]")] = None,
           production: Annotated[bool | None, typer.Option(
               "--production/--development", help="hold the deployment to production's requirements")] = None,
           strict: Annotated[bool, typer.Option(help="warnings fail too")] = False,
           output: Annotated[str, typer.Option("-o", "--output", help="pretty or json")] = "pretty") -> None:
    """Check the deployment: Localbase's checks (RLS, JWT secret, auth, realtime, backups,
    migrations) and the hub's (anonymous reads, optimizer, the API's keys, policy indexes)."""
    from efficiency_hub.cli.doctor import hub_checks, read_state
    from localbase.doctor import exit_code, load_doctor_settings, render, run_checks, to_json
    from localbase.settings import SettingsError

    try:
        project = project_dir(workdir)
        settings = load_doctor_settings(project, data_dir=data_dir)
    except (FileNotFoundError, SettingsError) as exc:
        raise _fail(str(exc)) from None
    hub = discover(project, settings.data_dir)
    api = (api_url or read_state(settings.data_dir).get("api_url") or "").rstrip("/") or None
    checks = run_checks(settings, production=production, extra=hub_checks(hub, api))
    if output == "json":
        print(to_json(checks, strict))
    else:
        render(checks, console, title="Efficiency Hub doctor")
    raise typer.Exit(exit_code(checks, strict))


@app.command()
def grant(email: Annotated[str, typer.Argument(metavar="EMAIL", help="the account's email address")],
          clearance: Annotated[Clearance, typer.Option(help="the clearance to grant", case_sensitive=False)],
          workdir: Workdir = None, data_dir: DataDir = None) -> None:
    """Grant the citizen signed up as EMAIL a clearance level (an operator task, with the
    service-role key: SUPABASE_SERVICE_ROLE_KEY, or the running Localbase's)."""
    from efficiency_hub.admin import Admin
    from efficiency_hub.clients import service_client

    settings = chosen_backend(workdir, data_dir)
    if settings is None:
        raise _fail("no backend: set SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY, or start `efficiency-hub up`")

    async def granted():
        settings.require_service_role()
        return await Admin(await service_client(settings)).grant_clearance(email, clearance)

    try:
        citizen = asyncio.run(granted())
    except (HubError, MissingSettings) as exc:
        raise _fail(exc.message if isinstance(exc, HubError) else str(exc)) from None
    console.print(f"granted [bold]{citizen.clearance_level.value}[/] to {escape(email)} "
                  f"(citizen {citizen.citizen_id}, {escape(citizen.name)})", soft_wrap=True)


if __name__ == "__main__":
    app()
