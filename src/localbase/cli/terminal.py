"""What the commands (localbase's and efficiency-hub's) share with a terminal: stop signals, and
values a person copies.

rich (~50 modules: ~2.5 MB of a long-running `localbase start` and ~0.04 s of its start) is
imported when something is printed through it: `LazyConsole`, `escape`. When its output is not a
terminal (a log file, a service manager, a pipe), `localbase start` prints its few lines without
rich (`plain`), as rich would print them there: no colour, no spinner."""

from __future__ import annotations

import os
import signal
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

# long values: printed whole, each on a line of its own
COPYABLE = ("JWT_SECRET", "ANON_KEY", "SERVICE_ROLE_KEY")


def handle_stop_signals() -> None:
    """Ctrl+C and SIGTERM raise KeyboardInterrupt, so the command stops what it started, whatever
    it inherited: a shell starting a background job makes it ignore SIGINT (and Python then leaves
    SIGINT ignored), and SIGTERM's default would end the process without any clean-up."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.default_int_handler)


class LazyConsole:
    """A rich Console made on first use, with these options."""

    def __init__(self, **options: Any):
        self._options = options
        self._console: Console | None = None

    def real(self) -> Console:
        if self._console is None:
            from rich.console import Console
            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)


def escape(text: str) -> str:
    """rich's markup escaped (rich.markup.escape)."""
    from rich.markup import escape as rich_escape
    return rich_escape(text)


def plain(stream: Any = None) -> bool:
    """True when `stream` (stdout) is not a terminal and nothing forces colour: rich would print
    there without styles, live updates or a spinner."""
    stream = stream if stream is not None else sys.stdout
    if os.environ.get("FORCE_COLOR") or os.environ.get("TTY_COMPATIBLE") == "1":
        return False
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):
        return True


def print_plain_values(values: dict[str, str], *, hidden: dict[str, str] | None = None) -> None:
    """print_values' lines without rich: the short values aligned two spaces after their names."""
    hidden = hidden or {}
    rows = [(name, hidden[name] if name in hidden else value) for name, value in values.items()
            if name in hidden or name not in COPYABLE]
    width = max((len(name) for name, _ in rows), default=0)
    lines = [f"  {name.ljust(width)}  {value}" for name, value in rows]
    lines += [f"{name}={value}" for name, value in values.items() if name in COPYABLE and name not in hidden]
    print("\n".join(lines), flush=True)


def print_values(out: Console | LazyConsole, values: dict[str, str], *, hidden: dict[str, str] | None = None) -> None:
    """Short values (URLs) in a table; keys and secrets each on a line of its own as NAME=value,
    never cut or folded: the terminal wraps the line, and a copied line or a double-clicked value
    is whole. `hidden` replaces some values by a note."""
    from rich.table import Table
    from rich.text import Text
    hidden = hidden or {}
    table = Table(show_header=False, box=None, padding=(0, 2))
    for name, value in values.items():
        if name in hidden:
            table.add_row(f"[cyan]{name}[/cyan]", f"[dim]{escape(hidden[name])}[/dim]")
        elif name not in COPYABLE:
            table.add_row(f"[cyan]{name}[/cyan]", escape(value))
    if table.row_count:
        out.print(table)
    for name, value in values.items():
        if name in COPYABLE and name not in hidden:
            out.print(Text.assemble((name, "cyan"), "=", value), soft_wrap=True)
