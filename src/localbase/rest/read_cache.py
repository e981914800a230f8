"""A small LRU of prepared reads: the same GET (path, query string and the headers that shape it)
against the same schema-cache version always parses, plans and renders to the same statement, so
repeated reads skip those stages. Keys never include the caller: role and claims are applied when
the statement runs."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from localbase.rest import plan as plan_stage
from localbase.rest import sql
from localbase.rest.plan import Planner
from localbase.rest.sql import Statement
from localbase.rest.types import ApiRequest, MediaType

# The request headers parse_request reads for a GET/HEAD.
SHAPING_HEADERS = ("accept", "accept-profile", "prefer", "range", "range-unit")


@dataclass(frozen=True, slots=True)
class PreparedRead:
    statement: Statement
    exact: Statement | None  # count=estimated below max_rows: the exact count, run when needed
    offset: int
    single: bool
    count: str | None
    rollback: bool
    applied: tuple[str, ...]
    csv: bool = False
    geojson: bool = False


class ReadCache:
    def __init__(self, size: int = 2048):
        self.size = size
        self._entries: OrderedDict[tuple, PreparedRead] = OrderedDict()

    @staticmethod
    def key(version: int, method: str, path: str, query: bytes, headers) -> tuple:
        return (version, method, path, query, *(headers.get(h) for h in SHAPING_HEADERS))

    def get(self, key: tuple) -> PreparedRead | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: tuple, entry: PreparedRead) -> None:
        self._entries[key] = entry
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)


def prepare(req: ApiRequest, planner: Planner, *, head: bool) -> PreparedRead:
    """A read planned and rendered: its statement, and for count=estimated the exact count's."""
    plan = planner.read(req)
    count = req.preferences.count
    geojson = plan_stage.geojson(req, planner.schema)
    statement = sql.read(plan, count="planned" if count == "estimated" else count, single=req.single,
                         strip_nulls=req.strip_nulls, head=head, csv=req.csv, geojson=geojson)
    exact = sql.read(plan, count="exact", single=req.single, strip_nulls=req.strip_nulls, head=True, csv=req.csv,
                     geojson=geojson) if count == "estimated" else None
    rollback = planner.schema.config.tx_rollback(req.preferences.tx)
    return PreparedRead(statement, exact, plan.root.offset, req.single, count, rollback,
                        (f"count={count}",) if count else (), req.csv, req.accept is MediaType.GEOJSON)
