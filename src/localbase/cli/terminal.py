"""What the commands (localbase's and efficiency-hub's) share with a terminal: stop signals, and
values a person copies."""

from __future__ import annotations

import signal

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

# long values: printed whole, each on a line of its own
COPYABLE = ("JWT_SECRET", "ANON_KEY", "SERVICE_ROLE_KEY")


def handle_stop_signals() -> None:
    """Ctrl+C and SIGTERM raise KeyboardInterrupt, so the command stops what it started, whatever
    it inherited: a shell starting a background job makes it ignore SIGINT (and Python then leaves
    SIGINT ignored), and SIGTERM's default would end the process without any clean-up."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.default_int_handler)


def print_values(out: Console, values: dict[str, str], *, hidden: dict[str, str] | None = None) -> None:
    """Short values (URLs) in a table; keys and secrets each on a line of its own as NAME=value,
    never cut or folded: the terminal wraps the line, and a copied line or a double-clicked value
    is whole. `hidden` replaces some values by a note."""
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
