"""What a doctor check returns (Check) and what it is given (Context)."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from localbase.settings import Settings

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""
    severity: str = "error"  # what a failure means: error, warning or info

    @property
    def status(self) -> str:
        """pass, fail (a failed error), warn (a failed warning) or info (a note, never a failure)."""
        if self.severity == "info":
            return "info"
        if self.ok:
            return "pass"
        return "fail" if self.severity == "error" else "warn"

    def as_dict(self) -> dict:
        return {"name": self.name, "ok": self.ok, "status": self.status, "severity": self.severity,
                "detail": self.detail}


@dataclass
class Context:
    settings: Settings
    conn: asyncpg.Connection | None = None
    production: bool = False
    api_url: str | None = None
    notes: dict = field(default_factory=dict)

    @property
    def db(self) -> asyncpg.Connection:
        """The database connection, for the checks that run only with one."""
        if self.conn is None:
            raise RuntimeError("this check needs a database connection")
        return self.conn

    @property
    def required(self) -> str:
        """The severity of a production requirement in this mode."""
        return "error" if self.production else "warning"


def wal_size(n: float) -> str:
    """A number of bytes (of WAL, say) as a person reads it: 1.5 MB."""
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} bytes"
