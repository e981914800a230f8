"""The one way each kind of setting is written, for every service: booleans, durations and choices.
Every parser takes `where` (the file and key, or the environment variable) and raises SettingsError
naming it, with what is allowed."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off")
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?")


class SettingsError(Exception):
    """A configuration problem the user must fix; the message names the file and key, or the variable."""


def parse_bool(value: Any, where: str) -> bool:
    """true/false (TOML), or one of true, 1, yes, on / false, 0, no, off (any case)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise SettingsError(f"{where} must be true or false, got {value!r}")


def parse_seconds(value: Any, where: str, *, named: Mapping[str, float] | None = None,
                  minimum: float = 0.0) -> float:
    """A duration: a number of seconds, or a number with a unit (ms, s, m, h, d) such as "30s", "5m",
    "1.5h"; `named` adds words (e.g. "daily"). Must be above `minimum`."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        match = _DURATION.fullmatch(text)
        if named and text in named:
            seconds = float(named[text])
        elif match:
            seconds = float(match[1]) * UNITS[match[2] or "s"]
        else:
            words = f"{', '.join(named)} or " if named else ""
            raise SettingsError(f"{where} must be {words}a duration such as 30s, 5m, 1h or 2d, got {value!r}")
    if not seconds > minimum:
        raise SettingsError(f"{where} must be more than {minimum:g} seconds, got {value!r}")
    return seconds


def choice(value: Any, where: str, allowed: tuple[str, ...]) -> str:
    text = str(value).strip().lower()
    if text not in allowed:
        shown = ", ".join(repr(a) if a == "" else a for a in allowed)
        raise SettingsError(f"{where} must be one of {shown}, got {value!r}")
    return text


def env(name: str) -> str | None:
    """An environment variable, None when unset or empty."""
    value = os.environ.get(name)
    return None if value in (None, "") else value


def env_bool(name: str) -> bool | None:
    raw = env(name)
    return None if raw is None else parse_bool(raw, f"environment variable {name}")


def env_int(name: str) -> int | None:
    raw = env(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"environment variable {name} must be an integer, got {raw!r}") from None
