"""The doctor's report: a rich table (pass / FAIL / warn / info), JSON, and the exit code."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from localbase.doctor.checks import Check

STYLES = {"pass": ("✔ pass", "green"), "fail": ("✘ FAIL", "bold red"), "warn": ("! warn", "yellow"),
          "info": ("i info", "cyan")}


def render(checks: Sequence[Check], console: Console | None = None, title: str = "Localbase doctor") -> None:
    console = console or Console()
    table = Table(title=title, show_lines=False, expand=False)
    table.add_column("", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for check in checks:
        label, style = STYLES[check.status]
        table.add_row(Text(label, style=style), Text(check.name), Text(check.detail))  # no markup
    console.print(table)
    console.print(summary(checks))


def summary(checks: Sequence[Check]) -> str:
    counts = {status: sum(1 for c in checks if c.status == status) for status in STYLES}
    verdict = "[bold red]unhealthy[/bold red]" if counts["fail"] else "[bold green]healthy[/bold green]"
    return (f"{verdict}: {counts['pass']} passed, {counts['fail']} failed, {counts['warn']} warning(s), "
            f"{counts['info']} note(s)")


def to_json(checks: Sequence[Check], strict: bool = False) -> str:
    return json.dumps({"ok": exit_code(checks, strict) == 0, "checks": [c.as_dict() for c in checks]}, indent=2)


def exit_code(checks: Sequence[Check], strict: bool = False) -> int:
    """1 when a check failed (or, with strict, warned); else 0."""
    bad = {"fail", "warn"} if strict else {"fail"}
    return 1 if any(c.status in bad for c in checks) else 0
