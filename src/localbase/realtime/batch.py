"""Fan-out batches: the changes of one table in a batch, who listens to them, and - once
PostgreSQL has answered (authorize.py) - which frame goes to which channel.

Contexts are the distinct (role, claims) among the listening channels: subscribers with the same
identity are checked once. Filter lists are the distinct ones among their bindings. A channel
listens when it has a binding for the table (or its schema) and for one of the batch's change
kinds, and has not been given the batch's changes already (replays)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from localbase.realtime.authorize import Shape, Verdict
    from localbase.realtime.channels import Binding, Channel, Context
    from localbase.realtime.pgoutput import Relation, RowChange, Transaction

Listener = tuple["Channel", list["Binding"]]
# role, claims JSON, and the claims' sub, role and email (Context.claim_values)
Identity = tuple[str, str, str | None, str | None, str | None]


@dataclass(slots=True)
class Audience:
    """Who listens to some kinds of change of one table: the listening channels grouped by
    context (distinct role and claims) and the distinct filter lists of their bindings."""

    contexts: dict[tuple[str, str], int] = field(default_factory=dict)  # (role, claims JSON) -> index
    identities: list[Identity] = field(default_factory=list)  # per context: what authorize.py sets for it
    members: list[list[Listener]] = field(default_factory=list)  # per context: its channels and their bindings
    filters: dict[bytes, int] = field(default_factory=dict)  # filter list (JSON) -> index
    binding_filter: dict[int, int] = field(default_factory=dict)  # binding id -> its filter list's index

    @classmethod
    def of(cls, rel: Relation, kinds: frozenset[str], channels: Iterable[Channel]) -> Audience:
        out = cls()
        for ch in channels:
            bindings = [b for b in ch.bindings
                        if (b.relid == rel.relid or (b.relid is None and b.schema in (rel.schema, "*")))
                        and (b.event == "*" or b.event in kinds)]
            if not bindings:
                continue
            key = (ch.context.role, ch.context.claims_json)
            k = out.contexts.get(key)
            if k is None:
                k = out.contexts[key] = len(out.members)
                out.members.append([])
                out.identities.append((*key, *ch.context.claim_values))
            out.members[k].append((ch, bindings))
            for b in bindings:
                if b.filters:
                    out.binding_filter[b.id] = out.filters.setdefault(orjson.dumps(b.filters), len(out.filters))
        return out


class Audiences:
    """Audiences kept between batches (a thousand subscribers are not regrouped for every batch):
    one is used again only while the channels bound to tables are the same (`changed()` is
    called whenever a channel starts or stops receiving changes) and every one of them still has
    the context it had (a refreshed token replaces a channel's context)."""

    def __init__(self) -> None:
        self._kept: dict[tuple[int, str, frozenset[str]], tuple[list[Channel], list[Context], Audience]] = {}

    def changed(self) -> None:
        self._kept.clear()

    def of(self, rel: Relation, kinds: frozenset[str], channels: Iterable[Channel]) -> Audience:
        key = (rel.relid, rel.schema, kinds)
        kept = self._kept.get(key)
        if kept is not None:
            chans, contexts, audience = kept
            if all(ch.context is context for ch, context in zip(chans, contexts, strict=True)):
                return audience
        chans = list(channels)
        audience = Audience.of(rel, kinds, chans)
        self._kept[key] = (chans, [ch.context for ch in chans], audience)
        return audience


class Batch:
    def __init__(self, rel: Relation, channels, audiences: Audiences | None = None):
        self.rel = rel
        self.channels = channels  # every candidate: all of them are "considered" for the batch
        self.audiences = audiences  # None: the audience is gathered for this batch alone (a replay)
        self.indexes: list[int] = []  # each change's index among the batch's items
        self.txns: list[Transaction] = []
        self.changes: list[RowChange] = []
        self.positions: list[tuple[int, int]] = []
        self.audience = Audience()

    @property
    def contexts(self) -> dict[tuple[str, str], int]:
        return self.audience.contexts

    @property
    def identities(self) -> list[Identity]:
        return self.audience.identities

    @property
    def members(self) -> list[list[Listener]]:
        return self.audience.members

    def add(self, index: int, txn: Transaction, change: RowChange) -> None:
        self.indexes.append(index)
        self.txns.append(txn)
        self.changes.append(change)
        self.positions.append((txn.commit_lsn, change.seq))

    def listen(self) -> bool:
        """Gather the listening channels' contexts and filter lists; False when nobody listens.
        A channel given the batch's changes already (a replay got ahead of it) does not listen."""
        last = self.positions[-1]
        kinds = frozenset(c.kind for c in self.changes)
        if self.audiences is not None and not any(ch.considered >= last for ch in self.channels):
            self.audience = self.audiences.of(self.rel, kinds, self.channels)
        else:
            self.audience = Audience.of(self.rel, kinds, (ch for ch in self.channels if ch.considered < last))
        return bool(self.audience.contexts)

    def filter_lists(self) -> list[list]:
        return [orjson.loads(f) for f in self.audience.filters]

    def reachable(self, matched: list[list[int]]) -> list[int]:
        """The contexts with a binding that has no filter or whose filter list matched a change
        (`matched`: per filter list, the changes it matches): only these need an RLS check."""
        hit = [bool(found) for found in matched]
        of = self.audience.binding_filter
        return [k for k, members in enumerate(self.members)
                if any(not b.filters or hit[of[b.id]] for _, bindings in members for b in bindings)]

    def frames(self, verdict: Verdict, shapes: dict[str, Shape], sends: list[list[tuple[Channel, bytes]]],
               data: Callable[..., bytes]) -> None:
        """Add to `sends` (per batch item) the (channel, payload) of every change a channel may see
        and one of its bindings matches; each change is serialized once per role."""
        matched = [set(found) for found in verdict.matched]
        serialized: dict[tuple[int, str], bytes] = {}
        for k, seen in enumerate(verdict.visible):
            for j in seen:
                change, position = self.changes[j], self.positions[j]
                for ch, bindings in self.members[k]:
                    if ch.considered >= position:
                        continue
                    ids = [b.id for b in bindings if b.event in ("*", change.kind)
                           and (not b.filters or j in matched[self.audience.binding_filter[b.id]])]
                    if not ids:
                        continue
                    role = ch.context.role
                    body = serialized.get((j, role))
                    if body is None:
                        body = serialized[(j, role)] = data(self.txns[j], change, verdict.records[j],
                                                             verdict.old_records[j], shapes[role])
                    sends[self.indexes[j]].append((ch, b'{"data":' + body + b',"ids":' + orjson.dumps(ids) + b"}"))

    def considered(self) -> None:
        """Every candidate channel has now been given or refused each change of the batch."""
        last = self.positions[-1]
        for ch in self.channels:
            if ch.considered < last:
                ch.considered = last
