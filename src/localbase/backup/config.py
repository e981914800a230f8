"""[backup] settings (supabase/localbase.toml, or supabase/config.toml for projects that never use
the Supabase CLI):

    [backup]
    schedule = "daily"    # hourly, daily, weekly, or an interval: "30s", "15m", "6h", "2d"
    dir = "backups"       # relative to the project folder [default: <data folder>/backups]
    keep = 7              # newest scheduled dumps kept; older ones are deleted

Environment: LOCALBASE_BACKUP_SCHEDULE, LOCALBASE_BACKUP_DIR, LOCALBASE_BACKUP_KEEP.
No schedule means no scheduled backups (`localbase db dump` works all the same).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from localbase.config_values import parse_seconds
from localbase.settings import Settings, SettingsError

NAMED = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400}
PREFIX = "localbase-"  # scheduled dumps are named localbase-<database>-<UTC time>.dump


def parse_interval(value: object) -> float:
    return parse_seconds(value, "[backup] schedule", named=NAMED, minimum=0.999)


@dataclass(frozen=True)
class BackupConfig:
    dir: Path
    schedule: str | None = None
    interval: float | None = None
    keep: int = 7

    @property
    def scheduled(self) -> bool:
        return self.interval is not None

    @classmethod
    def from_settings(cls, settings: Settings) -> BackupConfig:
        section = settings.section("backup")
        schedule = os.environ.get("LOCALBASE_BACKUP_SCHEDULE") or section.get("schedule") or None
        raw_dir = os.environ.get("LOCALBASE_BACKUP_DIR") or section.get("dir")
        folder = (settings.project_dir / str(raw_dir)) if raw_dir else settings.data_dir / "backups"
        keep_raw = os.environ.get("LOCALBASE_BACKUP_KEEP") or section.get("keep", 7)
        try:
            keep = int(keep_raw)
        except (TypeError, ValueError):
            raise SettingsError(f"[backup] keep must be a whole number, got {keep_raw!r}") from None
        if keep < 1:
            raise SettingsError("[backup] keep must be at least 1")
        return cls(dir=folder.resolve(), schedule=str(schedule) if schedule else None,
                   interval=parse_interval(schedule) if schedule else None, keep=keep)
