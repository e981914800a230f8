"""`localbase studio hash-password` (registered on main's app)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from localbase.cli.main import app, err

studio_app = typer.Typer(help="Studio, the admin web page served by `localbase start`.", no_args_is_help=True)
app.add_typer(studio_app, name="studio")


@studio_app.command("hash-password")
def hash_password(
    stdin: Annotated[bool, typer.Option("--stdin", help="Read the password from standard input "
                                        "instead of asking for it.")] = False,
) -> None:
    """Print a bcrypt hash of Studio's password, for [studio] password_hash in supabase/localbase.toml
    (or LOCALBASE_STUDIO_PASSWORD_HASH). The password itself is stored nowhere."""
    from localbase.studio.config import hash_password as make_hash
    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Studio password", hide_input=True, confirmation_prompt=True)
    try:
        hashed = make_hash(password)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    print(hashed)
    if not stdin:
        err.print('[dim]In supabase/localbase.toml:\n\\[studio]\npassword_hash = "<the line above>"[/dim]',
                  highlight=False)
