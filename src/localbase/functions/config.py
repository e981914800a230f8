"""Functions' settings ([edge_runtime] in supabase/localbase.toml), read without importing the runner."""

from __future__ import annotations

from typing import Any

REQUEST_TIMEOUT_S = 150.0
BOOT_TIMEOUT_S = 20.0


def timeouts(settings: Any) -> tuple[float, float]:
    """[edge_runtime] request_timeout_seconds and boot_timeout_seconds."""
    runtime = settings.section("edge_runtime")
    return (_seconds(runtime, "request_timeout_seconds", REQUEST_TIMEOUT_S),
            _seconds(runtime, "boot_timeout_seconds", BOOT_TIMEOUT_S))


def _seconds(section: dict[str, Any], key: str, default: float) -> float:
    from localbase.config_values import parse_seconds
    return parse_seconds(section.get(key, default), f"supabase/localbase.toml [edge_runtime] {key}")
