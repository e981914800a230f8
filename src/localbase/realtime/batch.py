"""Fan-out batches: the changes of one table in a batch, who listens to them, and - once
PostgreSQL has answered (authorize.py) - which frame goes to which channel.

Contexts are the distinct (role, claims) among the listening channels: subscribers with the same
identity are checked once. Filter lists are the distinct ones among their bindings. A channel
listens when it has a binding for the table (or its schema) and for one of the batch's change
kinds, and has not been given the batch's changes already (replays)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from localbase.realtime.authorize import Shape, Verdict
    from localbase.realtime.channels import Binding, Channel
    from localbase.realtime.pgoutput import Relation, RowChange, Transaction

Listener = tuple["Channel", list["Binding"]]
# role, claims JSON, and the claims' sub, role and email (Context.claim_values)
Identity = tuple[str, str, str | None, str | None, str | None]


class Batch:
    def __init__(self, rel: Relation, channels):
        self.rel = rel
        self.channels = channels  # every candidate: all of them are "considered" for the batch
        self.indexes: list[int] = []  # each change's index among the batch's items
        self.txns: list[Transaction] = []
        self.changes: list[RowChange] = []
        self.positions: list[tuple[int, int]] = []
        self.contexts: dict[tuple[str, str], int] = {}  # (role, claims JSON) -> index
        self.identities: list[Identity] = []  # per context: what authorize.py sets for it
        self.members: list[list[Listener]] = []  # per context: its channels and their bindings
        self._filters: dict[bytes, int] = {}  # filter list (JSON) -> index
        self._binding_filter: dict[int, int] = {}  # binding id -> its filter list's index

    def add(self, index: int, txn: Transaction, change: RowChange) -> None:
        self.indexes.append(index)
        self.txns.append(txn)
        self.changes.append(change)
        self.positions.append((txn.commit_lsn, change.seq))

    def listen(self) -> bool:
        """Gather the listening channels' contexts and filter lists; False when nobody listens."""
        rel, last = self.rel, self.positions[-1]
        kinds = {c.kind for c in self.changes}
        for ch in self.channels:
            if ch.considered >= last:
                continue
            bindings = [b for b in ch.bindings
                        if (b.relid == rel.relid or (b.relid is None and b.schema in (rel.schema, "*")))
                        and (b.event == "*" or b.event in kinds)]
            if not bindings:
                continue
            key = (ch.context.role, ch.context.claims_json)
            k = self.contexts.get(key)
            if k is None:
                k = self.contexts[key] = len(self.members)
                self.members.append([])
                self.identities.append((*key, *ch.context.claim_values))
            self.members[k].append((ch, bindings))
            for b in bindings:
                if b.filters:
                    self._binding_filter[b.id] = self._filters.setdefault(orjson.dumps(b.filters), len(self._filters))
        return bool(self.contexts)

    def filter_lists(self) -> list[list]:
        return [orjson.loads(f) for f in self._filters]

    def reachable(self, matched: list[list[int]]) -> list[int]:
        """The contexts with a binding that has no filter or whose filter list matched a change
        (`matched`: per filter list, the changes it matches): only these need an RLS check."""
        hit = [bool(found) for found in matched]
        return [k for k, members in enumerate(self.members)
                if any(not b.filters or hit[self._binding_filter[b.id]] for _, bindings in members for b in bindings)]

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
                           and (not b.filters or j in matched[self._binding_filter[b.id]])]
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
