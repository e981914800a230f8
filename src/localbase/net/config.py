"""[net] settings (supabase/localbase.toml; the Supabase CLI has no such section):

    [net]
    enabled = true        # LOCALBASE_NET_ENABLED: run the sender in this server
    batch_size = 200      # requests claimed at once by one lane (pg_net.batch_size)
    lanes = 4             # batches in flight at once, shared by the server's API workers (at least 1 each)
    ttl = "6 hours"       # responses older than this are deleted (pg_net.ttl; the GUC wins when set)
    poll_seconds = 1.0    # look at the queue this often even without a notification
"""

from __future__ import annotations

from dataclasses import dataclass

from localbase.config_values import env_bool, parse_bool
from localbase.settings import Settings, SettingsError


@dataclass(frozen=True)
class NetConfig:
    enabled: bool = True
    batch_size: int = 200
    lanes: int = 4
    ttl: str = "6 hours"
    poll_seconds: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> NetConfig:
        section = settings.section("net")
        enabled = env_bool("LOCALBASE_NET_ENABLED")
        try:
            config = cls(
                enabled=parse_bool(section.get("enabled", True), "supabase/localbase.toml [net] enabled")
                if enabled is None else enabled,
                batch_size=int(section.get("batch_size", 200)),
                lanes=int(section.get("lanes", 4)),
                ttl=str(section.get("ttl", "6 hours")),
                poll_seconds=float(section.get("poll_seconds", 1.0)),
            )
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"[net] in localbase.toml: {exc}") from None
        if config.batch_size < 1 or config.lanes < 1 or config.poll_seconds <= 0:
            raise SettingsError("[net] batch_size and lanes must be at least 1, poll_seconds positive")
        return config
