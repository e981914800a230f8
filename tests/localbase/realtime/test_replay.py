"""Broadcast replay meets live delivery (realtime/replay.py): the gate that holds a replaying
channel's live database messages and lets through only those its replay's snapshot did not see.
Pure units; the end-to-end replay tests are in test_broadcast_from_database.py."""

from __future__ import annotations

from localbase.realtime.replay import Gate, Snapshot


def test_a_snapshot_sees_what_committed_before_it_and_not_what_ran_or_came_after():
    snap = Snapshot(xmin=100, xmax=105, xip=frozenset({100, 103}))
    assert snap.sees(99) and snap.sees(101) and snap.sees(104)
    assert not snap.sees(100) and not snap.sees(103)  # in progress when it was taken
    assert not snap.sees(105) and not snap.sees(200)  # started after it


def test_transaction_ids_compare_across_wraparound():
    snap = Snapshot(xmin=4294967290, xmax=5, xip=frozenset({3}))
    assert snap.sees(4294967280) and snap.sees(4294967295) and snap.sees(2) and snap.sees(4)
    assert not snap.sees(3) and not snap.sees(5) and not snap.sees(10)


def test_held_messages_are_sent_after_the_replay_unless_it_covered_them():
    gate = Gate()
    assert gate.stops(98, b"old") and gate.stops(110, b"new")  # both held while the replay is read
    assert gate.open(Snapshot(100, 105, frozenset())) == [b"new"]  # 98 was the replay's to send
    assert gate.stops(99, b"late")  # committed before the replay read, streamed late: replayed already
    assert not gate.stops(111, b"live")  # after it: sent live


def test_a_failed_replay_lets_every_held_message_through():
    gate = Gate()
    gate.stops(98, b"a")
    gate.stops(99, b"b")
    assert gate.open(None) == [b"a", b"b"]
    assert not gate.stops(97, b"c")
