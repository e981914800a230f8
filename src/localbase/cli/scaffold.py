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


FUNCTION_TEMPLATE = '''"""{name}: served at /functions/v1/{name}.

`handler` gets the caller's request (a Starlette Request, Authorization header included) and
returns a Response, or a dict / list (JSON), str (text) or None (204). SUPABASE_URL,
SUPABASE_ANON_KEY and SUPABASE_SERVICE_ROLE_KEY are in the environment, as on Supabase.
"""

from starlette.responses import JSONResponse


async def handler(request):
    body = await request.json() if await request.body() else {{}}
    name = body.get("name", "world") if isinstance(body, dict) else "world"
    if not isinstance(name, str):
        return JSONResponse({{"error": "name must be a string"}}, status_code=400)
    return {{"message": f"Hello {{name}}!"}}
'''


TS_FUNCTION_TEMPLATE = """\
// {name}: a Supabase Edge Function, served at /functions/v1/{name} by `localbase start` and,
// unchanged, by Supabase (`supabase functions deploy {name}`).
//
// The caller's JWT arrives in the Authorization header (checked before this code runs, unless
// config.toml says `[functions.{name}] verify_jwt = false`); forward it to act as the caller, so
// row-level security applies. SUPABASE_URL, SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY and
// SUPABASE_DB_URL are in the environment (Deno.env.get), as on Supabase.

Deno.serve(async (req: Request) => {{
  const body = req.headers.get("content-type")?.includes("application/json")
    ? await req.json().catch(() => ({{}}))
    : {{}};
  const name = body?.name ?? "world";
  if (typeof name !== "string") {{
    return Response.json({{ error: "name must be a string" }}, {{ status: 400 }});
  }}
  return Response.json({{ message: `Hello ${{name}}!` }});
}});
"""

LANGUAGES = {"python": ("index.py", FUNCTION_TEMPLATE), "py": ("index.py", FUNCTION_TEMPLATE),
             "ts": ("index.ts", TS_FUNCTION_TEMPLATE), "typescript": ("index.ts", TS_FUNCTION_TEMPLATE)}


def scaffold_function(functions_dir: Path, name: str, lang: str = "python") -> Path:
    """supabase/functions/<name>/index.py (`python`, the default) or index.ts (`ts`)."""
    from localbase.functions.loader import NAME_RE
    if not NAME_RE.match(name):
        raise ValueError("a function name may hold letters, digits, '_' and '-' (at most 64)")
    if lang.lower() not in LANGUAGES:
        raise ValueError(f"--lang must be python or ts, got {lang!r}")
    entry, template = LANGUAGES[lang.lower()]
    folder = functions_dir / name
    existing = [p for p in (folder / "index.py", folder / "index.ts") if p.exists()]
    if existing:
        raise FileExistsError(f"{existing[0]} already exists")
    path = folder / entry
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(template.format(name=name))
    return path
