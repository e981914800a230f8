"""Realtime's settings ([realtime] in supabase/config.toml), read without importing the service
(the start-up checks every service's settings before PostgreSQL starts: service_settings.py)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from localbase.config_values import parse_bool
from localbase.settings import Settings, SettingsError


@dataclass(frozen=True)
class RealtimeConfig:
    enabled: bool = True
    retention_seconds: float = 300.0
    retention_max_changes: int = 100_000
    max_queue: int = 2000
    max_pending: int = 10_000
    idle_timeout: float = 60.0
    slot_name: str = "localbase_realtime"
    max_channels: int = 100
    authorize_connections: int = 2
    authorize_idle_seconds: float = 300.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RealtimeConfig:
        section = settings.section("realtime")
        retention = os.environ.get("LOCALBASE_REALTIME_RETENTION_SECONDS") or section.get("retention_seconds", 300)
        idle = os.environ.get("LOCALBASE_REALTIME_AUTHORIZE_IDLE_SECONDS") or section.get("authorize_idle_seconds", 300)
        slot = str(section.get("slot_name", "localbase_realtime"))
        if not re.fullmatch(r"[a-z0-9_]{1,63}", slot):
            raise SettingsError("[realtime] slot_name must be lower-case letters, digits and _")
        try:
            config = cls(
                enabled=parse_bool(section.get("enabled", True), "supabase/config.toml [realtime] enabled"),
                retention_seconds=float(retention),
                retention_max_changes=int(section.get("retention_max_changes", 100_000)),
                max_queue=int(section.get("max_client_queue", 2000)),
                max_pending=int(section.get("max_pending_changes", 10_000)),
                idle_timeout=float(section.get("idle_timeout_seconds", 60)),
                slot_name=slot,
                max_channels=int(section.get("max_channels_per_client", 100)),
                authorize_connections=_connections(section.get("authorize_connections", 2)),
                authorize_idle_seconds=float(idle),
            )
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"[realtime] in config.toml: {exc}") from None
        if config.authorize_idle_seconds <= 0:
            raise SettingsError("[realtime] authorize_idle_seconds must be more than 0")
        if config.max_channels < 1:
            raise SettingsError("[realtime] max_channels_per_client must be at least 1")
        return config


def _connections(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 16:
        raise SettingsError(f"[realtime] authorize_connections = {value!r} in config.toml: allowed are whole "
                            "numbers from 1 to 16")
    return value
