"""Where the hub's backend is: a Supabase project (or Localbase), from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


class MissingSettings(RuntimeError):
    pass


@dataclass(frozen=True)
class HubSettings:
    supabase_url: str
    anon_key: str
    service_role_key: str | None = None  # the monitor and admin tasks only; never user requests

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HubSettings:
        """SUPABASE_URL / SUPABASE_ANON_KEY / SUPABASE_SERVICE_ROLE_KEY; else the names that
        `supabase status -o env` and `localbase status -o env` print (API_URL, ANON_KEY, ...)."""
        source: Mapping[str, str] = os.environ if env is None else env
        url = source.get("SUPABASE_URL") or source.get("API_URL")
        anon = source.get("SUPABASE_ANON_KEY") or source.get("ANON_KEY")
        if not url or not anon:
            raise MissingSettings(
                "set SUPABASE_URL and SUPABASE_ANON_KEY (for a running Localbase: "
                "eval \"$(localbase status -o env)\", or run `efficiency-hub up`)")
        service = source.get("SUPABASE_SERVICE_ROLE_KEY") or source.get("SERVICE_ROLE_KEY") or None
        return cls(url.rstrip("/"), anon, service)

    def require_service_role(self) -> str:
        if not self.service_role_key:
            raise MissingSettings("this task needs SUPABASE_SERVICE_ROLE_KEY")
        return self.service_role_key
