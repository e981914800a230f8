"""Where the hub's backend is: a Supabase project (or Localbase), from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass


class MissingSettings(RuntimeError):
    pass


@dataclass(frozen=True)
class HubSettings:
    supabase_url: str
    anon_key: str
    service_role_key: str | None = None  # the monitor and admin tasks only; never user requests

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "HubSettings":
        env = os.environ if env is None else env
        missing = [name for name in ("SUPABASE_URL", "SUPABASE_ANON_KEY") if not env.get(name)]
        if missing:
            raise MissingSettings(
                f"set {' and '.join(missing)} (for Localbase: eval \"$(localbase status -o env --prefix SUPABASE_)\" "
                "or run `efficiency-hub up`)")
        return cls(env["SUPABASE_URL"].rstrip("/"), env["SUPABASE_ANON_KEY"],
                   env.get("SUPABASE_SERVICE_ROLE_KEY") or None)

    def require_service_role(self) -> str:
        if not self.service_role_key:
            raise MissingSettings("this task needs SUPABASE_SERVICE_ROLE_KEY")
        return self.service_role_key
