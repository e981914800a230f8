"""Which API worker this process is, when `localbase start --workers N` runs several.

The supervising process (localbase.process.server) sets LOCALBASE_WORKERS=N and LOCALBASE_WORKER_INDEX=i
(0..N-1) in each worker's environment before it starts; a single-process server has neither and
is worker 0 of 1. Work that must happen once per deployment (scheduled backups, say) runs in
worker 0; state that must be shared (rate limits, presence, broadcasts) goes through PostgreSQL."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

ENV_COUNT = "LOCALBASE_WORKERS"
ENV_INDEX = "LOCALBASE_WORKER_INDEX"
MAX_WORKERS = 8  # each worker holds ~30 database connections and one replication slot


@dataclass(frozen=True)
class Worker:
    index: int = 0
    count: int = 1

    @property
    def several(self) -> bool:
        return self.count > 1

    @property
    def first(self) -> bool:
        return self.index == 0


@cache
def current() -> Worker:
    try:
        count = max(1, int(os.environ.get(ENV_COUNT, "1")))
        index = int(os.environ.get(ENV_INDEX, "0"))
    except ValueError:
        return Worker()
    return Worker(index if 0 <= index < count else 0, count)
