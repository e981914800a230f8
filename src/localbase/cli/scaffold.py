"""`localbase init`: a project folder in the Supabase CLI's layout."""

from __future__ import annotations

from pathlib import Path

CONFIG_TOML = """\
# Supabase CLI layout: the same file configures `supabase start` and `localbase start`.
project_id = "{project_id}"

[api]
port = 54321
schemas = ["public", "graphql_public"]
extra_search_path = ["public", "extensions"]
max_rows = 1000

[db]
port = 54322

[auth]
site_url = "http://127.0.0.1:3000"
jwt_expiry = 3600
enable_signup = true
enable_refresh_token_rotation = true
refresh_token_reuse_interval = 10
minimum_password_length = 6

[auth.email]
enable_signup = true
enable_confirmations = false
"""


def scaffold_project(workdir: Path) -> list[Path]:
    supabase = workdir / "supabase"
    created = []
    for folder in (supabase, supabase / "migrations", supabase / "functions"):
        if not folder.exists():
            folder.mkdir(parents=True)
            created.append(folder)
    files = {
        supabase / "config.toml": CONFIG_TOML.format(project_id=workdir.resolve().name or "localbase"),
        supabase / "seed.sql": "-- Rows to load after migrations on `localbase db reset` and on a new database.\n",
    }
    for path, text in files.items():
        if not path.exists():
            path.write_text(text)
            created.append(path)
    gitignore = workdir / ".gitignore"
    lines = gitignore.read_text().splitlines() if gitignore.exists() else []
    if ".localbase/" not in lines:
        gitignore.write_text("\n".join([*lines, ".localbase/"]) + "\n")
        created.append(gitignore)
    return created
