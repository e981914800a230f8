"""The worker's garbage-collector policy (process/collector.py): young collections rarer, what
lives long frozen out of full collections, and everything handed back and collected at intervals
so cycles that died while frozen are freed."""

from __future__ import annotations

import asyncio
import gc
import weakref

from localbase.process import collector
from localbase.process.collector import Collector


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


async def test_started_it_freezes_then_hands_back_and_collects_what_died_meanwhile():
    before = gc.get_threshold()
    c = Collector(freeze_seconds=0.05, unfreeze_seconds=0.2)
    c.start()
    try:
        assert gc.get_threshold()[0] == collector.GEN0_THRESHOLD
        assert gc.get_freeze_count() > 0  # what existed at start-up
        node = Node()
        gone = weakref.ref(node)
        await asyncio.sleep(0.07)  # frozen by the periodic freeze
        del node
        gc.collect()
        assert gone() is not None  # a frozen cycle is not looked at
        for _ in range(40):
            await asyncio.sleep(0.05)
            if gone() is None:
                break
        assert gone() is None  # handed back and collected within the unfreeze period
    finally:
        await c.stop()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


async def test_a_start_up_run_without_the_collector_gets_it_back_when_the_worker_starts():
    gc.disable()  # as `python -m localbase start` runs its start-up (localbase/__main__.py)
    c = Collector()
    try:
        c.start()
        assert gc.isenabled()
    finally:
        gc.enable()
        await c.stop()


def test_localbase_start_disables_the_collector_for_its_start_up_only():
    import subprocess
    import sys
    code = ("import gc, runpy, sys; sys.argv = ['localbase', {arg!r}, '--help']\n"
            "try:\n    runpy.run_module('localbase', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print('GC', gc.isenabled())")
    for arg, enabled in (("start", False), ("status", True)):
        out = subprocess.run([sys.executable, "-c", code.format(arg=arg)], capture_output=True, text=True).stdout
        assert f"GC {enabled}" in out
