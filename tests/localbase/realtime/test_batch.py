"""The fan-out stage's audiences (realtime/batch.py): who listens to a table's changes, grouped by
context, kept between batches only while nothing that decides it has changed."""

from __future__ import annotations

from datetime import UTC, datetime

from localbase.realtime.batch import Audiences, Batch
from localbase.realtime.channels import Binding, Channel, Context
from localbase.realtime.pgoutput import Relation, RowChange, Transaction

REL = Relation(relid=42, schema="public", table="notes", replica_identity="f", columns=[])
OTHER = Relation(relid=43, schema="public", table="other", replica_identity="f", columns=[])


def context(sub: str, role: str = "authenticated") -> Context:
    return Context(role=role, claims_json=f'{{"sub":"{sub}","role":"{role}"}}', exp=None, sub=sub,
                   claim_values=(sub, role, ""))


def channel(sub: str, event: str = "*", relid: int | None = 42, schema: str = "public",
            filters: list | None = None) -> Channel:
    ch = Channel(conn=None, topic=f"realtime:{sub}", join_ref=None, context=context(sub))  # type: ignore[arg-type]
    ch.bindings = [Binding(id=len(sub), event=event, schema=schema, table="notes", filter=None,
                           filters=filters or [], relid=relid)]
    return ch


def batch(channels, audiences, kind: str = "INSERT", lsn: int = 100) -> Batch:
    b = Batch(REL, set(channels), audiences)
    txn = Transaction(xid=1, commit_lsn=lsn, end_lsn=lsn + 1, commit_time=datetime.now(UTC))
    b.add(0, txn, RowChange(relation=REL, kind=kind, new={"id": "1"}, old=None))
    return b


def test_one_context_per_identity_and_only_matching_bindings():
    same = [channel("a"), channel("a"), channel("b")]
    deletes_only, elsewhere = channel("c", event="DELETE"), channel("d", relid=43)
    schema_wide = channel("e", relid=None)
    b = batch([*same, deletes_only, elsewhere, schema_wide], Audiences())
    assert b.listen()
    assert sorted(sub for _, claims, sub, *_ in b.identities) == ["a", "b", "e"]
    assert sorted(len(m) for m in b.members) == [1, 1, 2]


def test_an_audience_is_kept_until_a_channel_joins_or_leaves_or_changes_its_context():
    audiences = Audiences()
    channels = [channel(s) for s in "abc"]
    first = batch(channels, audiences)
    first.listen()
    again = batch(channels, audiences, lsn=200)
    again.listen()
    assert again.audience is first.audience  # nothing changed: not regrouped
    channels[1].context = context("b2")  # a refreshed token
    refreshed = batch(channels, audiences, lsn=300)
    refreshed.listen()
    assert refreshed.audience is not first.audience
    assert sorted(i[2] for i in refreshed.identities) == ["a", "b2", "c"]
    channels.append(channel("d"))
    audiences.changed()  # Fanout.activate / unsubscribe
    joined = batch(channels, audiences, lsn=400)
    joined.listen()
    assert sorted(i[2] for i in joined.identities) == ["a", "b2", "c", "d"]


def test_kinds_have_audiences_of_their_own():
    audiences = Audiences()
    channels = [channel("a", event="INSERT"), channel("b", event="UPDATE")]
    inserts = batch(channels, audiences, kind="INSERT")
    updates = batch(channels, audiences, kind="UPDATE", lsn=200)
    assert inserts.listen() and updates.listen()
    assert [i[2] for i in inserts.identities] == ["a"] and [i[2] for i in updates.identities] == ["b"]


def test_a_channel_given_the_batch_already_is_left_out_and_nothing_is_kept():
    audiences = Audiences()
    ahead, behind = channel("a"), channel("b")
    ahead.considered = (500, 0)  # a replay gave it changes up to there
    b = batch([ahead, behind], audiences)
    assert b.listen()
    assert [i[2] for i in b.identities] == ["b"]
    later = batch([ahead, behind], audiences, lsn=600)
    later.listen()
    assert sorted(i[2] for i in later.identities) == ["a", "b"]
