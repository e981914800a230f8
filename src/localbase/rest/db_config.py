"""PostgREST's in-database configuration: `alter role authenticator set pgrst.<name> = '...'` (or for the
role in one database), read from the role REST connects as, as PostgREST reads its authenticator's
settings, on top of supabase/config.toml's `[api]` (where Localbase-only keys may also sit in
localbase.toml). Reloaded with the schema cache (`NOTIFY pgrst, 'reload config'` too).

Understood (others are PostgREST's own and ignored here):
  db_aggregates_enabled  aggregate functions in `select` (count(), col.sum() ...); off by default
  db_plan_enabled        EXPLAIN plans (Accept: application/vnd.pgrst.plan+json|text); off by default
  db_max_rows            the most rows a read answers (config.toml's [api] max_rows otherwise)
  db_tx_end              commit | commit-allow-override | rollback | rollback-allow-override: whether
                         `Prefer: tx=commit|rollback` is honoured (Localbase's default: it is)
  db_pre_request         a function (`schema.name`) called in each request's transaction, as the
                         caller's role with its claims, before the request's statement: it may
                         raise to refuse the request (e.g. `RAISE SQLSTATE 'PGRST'`)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from localbase.config_values import parse_bool
from localbase.settings import SettingsError

log = logging.getLogger("localbase.rest")

SETTINGS_SQL = """
select substr(item, 7) as item
from pg_db_role_setting s join pg_roles r on r.oid = s.setrole, unnest(s.setconfig) as item
where r.rolname = $1 and item like 'pgrst.%'
  and s.setdatabase in (0, (select oid from pg_database where datname = current_database()))
order by s.setdatabase  -- the database's own setting wins over the role's everywhere
"""

TX_ENDS = ("commit", "commit-allow-override", "rollback", "rollback-allow-override")


@dataclass(frozen=True, slots=True)
class ApiConfig:
    aggregates_enabled: bool = False
    plan_enabled: bool = False
    max_rows: int | None = 1000
    tx_end: str = "commit-allow-override"
    pre_request: str | None = None  # the function's quoted (schema-qualified) name

    def tx_rollback(self, preferred: str | None) -> bool:
        """Does this request's transaction end in a rollback (`Prefer: tx=...` where allowed)?"""
        default = self.tx_end.startswith("rollback")
        if preferred is None or not self.tx_end.endswith("allow-override"):
            return default
        return preferred == "rollback"


def _function_name(name: str, value: str) -> str | None:
    """`schema.fn` or `fn` (empty: none) -> its quoted name."""
    parts = value.strip().split(".") if value.strip() else []
    if len(parts) > 2 or any(not p.strip() for p in parts):
        raise SettingsError(f"{name} must name a function as schema.name, got {value!r}")
    return ".".join('"' + p.strip().strip('"').replace('"', '""') + '"' for p in parts) or None


def _apply(config: ApiConfig, values: dict[str, Any], where: str) -> ApiConfig:
    changes: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{where} {key}"
        if key == "db_aggregates_enabled":
            changes["aggregates_enabled"] = parse_bool(value, name)
        elif key == "db_plan_enabled":
            changes["plan_enabled"] = parse_bool(value, name)
        elif key in ("db_max_rows", "max_rows"):
            try:
                rows = int(value)
            except (TypeError, ValueError):
                raise SettingsError(f"{name} must be a number, got {value!r}") from None
            changes["max_rows"] = rows if rows > 0 else None
        elif key == "db_pre_request":
            changes["pre_request"] = _function_name(name, str(value))
        elif key == "db_tx_end":
            if str(value) not in TX_ENDS:
                raise SettingsError(f"{name} must be one of {', '.join(TX_ENDS)}, got {value!r}")
            changes["tx_end"] = str(value)
    return replace(config, **changes)


def from_toml(api: dict[str, Any], max_rows: int | None) -> ApiConfig:
    """The `[api]` section (config.toml, or localbase.toml for the keys the Supabase CLI does not know)."""
    return _apply(ApiConfig(max_rows=max_rows), {k: v for k, v in api.items() if k.startswith("db_")}, "[api]")


async def read(conn, role: str, base: ApiConfig) -> ApiConfig:
    """base with the role's `pgrst.*` settings over it; a setting with a bad value is logged and left out."""
    config = base
    for r in await conn.fetch(SETTINGS_SQL, role):
        key, _, value = r["item"].partition("=")
        try:
            config = _apply(config, {key.replace("-", "_"): value}, f"pgrst. setting of role {role}:")
        except SettingsError as exc:
            log.error("ignoring an in-database setting: %s", exc)
    return config
