"""Small LRUs of prepared reads: the same GET (path, query string and the headers that shape it)
against the same schema-cache version always parses, plans and renders to the same statement, so
repeated reads skip those stages. Keys never include the caller: role and claims are applied when
the statement runs.

Shapes: reads that differ only in the values of simple filters (`id=eq.7`, `qty=gt.300`: an
operator in operators.VERBATIM, whose value reaches PostgreSQL untouched as one bind parameter)
share one statement, its values bound differently. A shape is learnt from a read planned the
ordinary way: the same query with a marker in place of each such value is planned too, and the
shape is kept only if each marker came out as a whole bind argument and nowhere else (not in the
SQL, not in any other argument, not in anything else prepared) and if the markers replaced by the
first read's values give exactly that read's statement. An application reading many rows by id
thus parses and plans once per shape, not once per row.

A read asks its shape first (`ReadCache.shaped`: the statement filled, nothing else made), then the
exact entries: reads by many distinct ids only churned an LRU of exact URLs."""

from __future__ import annotations

import dataclasses
import secrets
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from localbase.rest import plan as plan_stage
from localbase.rest import sql
from localbase.rest.operators import VERBATIM
from localbase.rest.plan import Planner
from localbase.rest.sql import Statement
from localbase.rest.types import ApiRequest, MediaType

# The request headers parse_request reads for a GET/HEAD.
SHAPING_HEADERS = ("accept", "accept-profile", "prefer", "range", "range-unit")  # (_shaping reads them)


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


# keys ending in a reserved word are never filters
_RESERVED = frozenset(("select", "order", "limit", "offset", "and", "or", "on_conflict", "columns"))


def simple(value: str) -> tuple[str, str] | None:
    """A simple filter's value split: (`[not.]op.`, the value after it) for an operator in VERBATIM
    (its value bound untouched) and a value of at least one character; None for anything else. (No
    operator's name has a dot, nor is `not`: partitions, not a regular expression, on every read.)"""
    op, dot, rest = value.partition(".")
    cut = len(op) + 1
    if op == "not":
        op, dot, rest = rest.partition(".")
        cut += len(op) + 1
    if dot and rest and op in VERBATIM:
        return value[:cut], rest
    return None


def _cut(pairs: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[str]]:
    """The pairs with each simple filter's value cut to `[not.]op.` (a new pair; the others are the
    same objects), and those values in order."""
    shaped: list[tuple[str, str]] = []
    values: list[str] = []
    for pair in pairs:
        name, value = pair
        split = simple(value) if name.rpartition(".")[2] not in _RESERVED else None
        if split is None:
            shaped.append(pair)
        else:
            shaped.append((name, split[0]))
            values.append(split[1])
    return shaped, values


@dataclass(frozen=True, slots=True)
class Shape:
    key: tuple
    values: tuple[str, ...]  # the simple filters' values, in the query's order
    pairs: tuple[tuple[str, str], ...]  # the query's pairs, each simple filter's value cut to `[not.]op.`
    slots: tuple[int, ...]  # which pairs those are, in the order of `values`


@dataclass(frozen=True, slots=True)
class _Template:
    prepared: PreparedRead  # planned with markers for values
    # (list, index, value): list 0/1 the statement's args/explain_args, 2/3 the exact count's
    slots: tuple[tuple[int, int, int], ...]

    def fill(self, values: tuple[str, ...]) -> PreparedRead:
        p = self.prepared  # (every field spelt out: dataclasses.replace costs several times more per read)
        return PreparedRead(statement=self._bound(p.statement, values, 0),
                            exact=self._bound(p.exact, values, 2) if p.exact is not None else None,
                            offset=p.offset, single=p.single, count=p.count, rollback=p.rollback, applied=p.applied,
                            csv=p.csv, geojson=p.geojson)

    def read(self, values: tuple[str, ...]) -> tuple[PreparedRead, Statement]:
        """(prepared, statement): the statement to run, `values` bound; `prepared` for the rest of
        what the read is (offset, single, count, ...) - the template's own when only the statement
        has slots (no exact count), so its `statement` is not this read's: run `statement`."""
        p = self.prepared
        if p.exact is not None:
            filled = self.fill(values)
            return filled, filled.statement
        return p, self._bound(p.statement, values, 0)

    def _bound(self, st: Statement, values: tuple[str, ...], first: int) -> Statement:
        """`st` with `values` in its slots: those of lists `first` (its args) and `first` + 1 (its
        explain_args)."""
        lists = (list(st.args), list(st.explain_args))
        for part, index, value in self.slots:
            if first <= part <= first + 1:
                lists[part - first][index] = values[value]
        return Statement(st.sql, lists[0], st.explain_sql, lists[1])


class ReadCache:
    def __init__(self, size: int = 2048, shapes: int = 512):
        self.size = size
        self._entries: OrderedDict[tuple, PreparedRead] = OrderedDict()
        self.shapes = shapes
        self._shapes: OrderedDict[tuple, _Template | None] = OrderedDict()  # None: this shape is not reused
        self._marker = f"lb-value-{secrets.token_hex(8)}-"

    @staticmethod
    def key(version: int, method: str, path: str, query: bytes, headers) -> tuple:
        return (version, method, path, query, *_shaping(headers))

    def get(self, key: tuple) -> PreparedRead | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: tuple, entry: PreparedRead) -> None:
        self._entries[key] = entry
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)

    @staticmethod
    def shape(version: int, method: str, path: str, pairs: list[tuple[str, str]], headers) -> Shape | None:
        """The read's shape, or None when it has no simple filter."""
        shaped, values = _cut(pairs)
        if not values:
            return None
        slots = [at for at, (pair, kept) in enumerate(zip(pairs, shaped, strict=True)) if pair is not kept]
        cut = tuple(shaped)
        return Shape(_shape_key(version, method, path, cut, headers), tuple(values), cut, tuple(slots))

    def shaped(self, version: int, method: str, path: str, pairs: list[tuple[str, str]],
               headers) -> tuple[PreparedRead, Statement] | None:
        """A read of a shape known to be reusable: (what it reuses, the statement with this read's
        values bound; see _Template.read), else None. Every read by id's path: no Shape made."""
        shaped, values = _cut(pairs)
        if not values:
            return None
        template = self._known(_shape_key(version, method, path, tuple(shaped), headers))
        return template.read(tuple(values)) if template is not None else None

    def get_shaped(self, shape: Shape) -> PreparedRead | None:
        template = self._known(shape.key)
        return template.fill(shape.values) if template is not None else None

    def _known(self, key: tuple) -> _Template | None:
        """The template of a shape known to be reusable (the most recently used now), else None."""
        template = self._shapes.get(key)
        if template is not None:
            self._shapes.move_to_end(key)
        return template

    def learn(self, shape: Shape, prepared: PreparedRead,
              prepare_pairs: Callable[[list[tuple[str, str]]], PreparedRead]) -> None:
        """Keep `shape` for reuse if planning it with markers proves its values are only bound
        (see the module's docstring); `prepared` is the read planned with its own values."""
        if shape.key in self._shapes:
            return
        template = self._template(shape, prepared, prepare_pairs)
        self._shapes[shape.key] = template
        if len(self._shapes) > self.shapes:
            self._shapes.popitem(last=False)

    def _template(self, shape: Shape, prepared: PreparedRead,
                  prepare_pairs: Callable[[list[tuple[str, str]]], PreparedRead]) -> _Template | None:
        markers: dict[str, int] = {}
        marked = list(shape.pairs)
        for value, at in enumerate(shape.slots):
            marker = f"{self._marker}{value}"
            markers[marker] = value
            name, op = marked[at]
            marked[at] = (name, op + marker)
        try:
            probe = prepare_pairs(marked)
        except Exception:  # noqa: BLE001 - a shape that does not plan with markers is just not reused
            return None
        slots = _slots(probe, markers, self._marker)
        if slots is None:
            return None
        template = _Template(probe, slots)
        return template if template.fill(shape.values) == prepared else None


def _shape_key(version: int, method: str, path: str, cut: tuple[tuple[str, str], ...], headers) -> tuple:
    return (version, method, path, cut, *_shaping(headers))


def _shaping(headers) -> tuple:
    """The values of SHAPING_HEADERS (every read's key: spelt out, no loop)."""
    get = headers.get
    return get("accept"), get("accept-profile"), get("prefer"), get("range"), get("range-unit")


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


def _slots(probe: PreparedRead, markers: Mapping[str, int], stem: str) -> tuple[tuple[int, int, int], ...] | None:
    """Where each marker is bound in `probe`, or None unless every marker is a whole bind argument
    and appears nowhere else."""
    slots: list[tuple[int, int, int]] = []
    rest: list[Any] = [getattr(probe, f.name) for f in dataclasses.fields(probe)
                       if f.name not in ("statement", "exact")]
    for which, st in enumerate((probe.statement, probe.exact)):
        if st is None:
            continue
        rest += [st.sql, st.explain_sql]
        for part, args in enumerate((st.args, st.explain_args), 2 * which):
            for index, arg in enumerate(args):
                if isinstance(arg, str) and arg in markers:
                    slots.append((part, index, markers[arg]))
                else:
                    rest.append(arg)
    if {value for *_, value in slots} != set(markers.values()) or any(stem in repr(item) for item in rest):
        return None
    return tuple(slots)
