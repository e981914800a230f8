"""Settings: supabase/config.toml (Supabase CLI layout), then environment, then command-line flags.

Only what every service needs is typed here; each service reads its own section of `config`
(e.g. the auth service reads `config["auth"]`), as the Supabase CLI's config.toml is laid out.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from localbase.security.keys import ProjectKeys, load_or_create

DEFAULT_API_PORT = 54321
DEFAULT_DB_PORT = 54322
DEFAULT_SCHEMAS = ("public", "graphql_public")


class SettingsError(Exception):
    """A configuration problem the user must fix; the message says which file or variable."""


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_API_PORT
    db_port: int = DEFAULT_DB_PORT
    db_url: str | None = None  # an external PostgreSQL; None means the embedded one
    jwt_secret: str = ""
    anon_key: str = ""
    service_role_key: str = ""
    jwt_expiry: int = 3600
    api_schemas: tuple[str, ...] = DEFAULT_SCHEMAS
    extra_search_path: tuple[str, ...] = ("public", "extensions")
    max_rows: int | None = 1000
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def supabase_dir(self) -> Path:
        return self.project_dir / "supabase"

    @property
    def migrations_dir(self) -> Path:
        return self.supabase_dir / "migrations"

    @property
    def seed_file(self) -> Path:
        return self.supabase_dir / "seed.sql"

    @property
    def functions_dir(self) -> Path:
        return self.supabase_dir / "functions"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def section(self, name: str) -> dict[str, Any]:
        """A (possibly nested, dotted) section of config.toml, `{}` when absent."""
        node: Any = self.config
        for part in name.split("."):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node if isinstance(node, dict) else {}

    def with_keys(self, keys: ProjectKeys) -> "Settings":
        return replace(self, jwt_secret=keys.jwt_secret, anon_key=keys.anon_key,
                       service_role_key=keys.service_role_key)


def read_config_toml(project_dir: Path) -> dict[str, Any]:
    path = project_dir / "supabase" / "config.toml"
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: {exc}") from None


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"environment variable {name} must be an integer, got {raw!r}") from None


def load_settings(
    project_dir: Path | str = ".",
    *,
    data_dir: Path | str | None = None,
    port: int | None = None,
    db_port: int | None = None,
    db_url: str | None = None,
    host: str | None = None,
    with_keys: bool = True,
) -> Settings:
    project_dir = Path(project_dir).resolve()
    config = read_config_toml(project_dir)
    api = config.get("api", {})
    db = config.get("db", {})
    auth = config.get("auth", {})
    data = Path(data_dir or os.environ.get("LOCALBASE_DATA_DIR") or project_dir / ".localbase").resolve()
    max_rows = api.get("max_rows", 1000)
    settings = Settings(
        project_dir=project_dir,
        data_dir=data,
        host=host or os.environ.get("LOCALBASE_HOST") or "127.0.0.1",
        port=port or _env_int("LOCALBASE_PORT") or int(api.get("port", DEFAULT_API_PORT)),
        db_port=db_port or _env_int("LOCALBASE_DB_PORT") or int(db.get("port", DEFAULT_DB_PORT)),
        db_url=db_url or os.environ.get("DATABASE_URL") or None,
        jwt_expiry=_env_int("LOCALBASE_JWT_EXPIRY") or int(auth.get("jwt_expiry", 3600)),
        api_schemas=tuple(api.get("schemas", DEFAULT_SCHEMAS)),
        extra_search_path=tuple(api.get("extra_search_path", ("public", "extensions"))),
        max_rows=int(max_rows) if max_rows else None,
        config=config,
    )
    if not with_keys:
        return settings
    secret = os.environ.get("LOCALBASE_JWT_SECRET") or None
    if secret is not None and len(secret) < 32:
        raise SettingsError("LOCALBASE_JWT_SECRET must be at least 32 characters long")
    return settings.with_keys(load_or_create(settings.data_dir, secret))
