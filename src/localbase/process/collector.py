"""The cyclic garbage collector of a server process, tuned for many long-lived connections.

CPython's full collection scans every tracked object: with a thousand Realtime sockets (~250
objects each) it paused the event loop for 100-200 ms every few seconds, the whole tail of
delivery latency (issue 14's 1,000-subscriber case). Two changes, both inside CPython's own
knobs:

- Young collections after GEN0_THRESHOLD net allocations instead of 700: the objects of one
  request or one batch are gone before the collector looks, instead of being promoted to the
  oldest generation, whose growth is what triggers full collections.
- What lives long is moved out of the collector's sight (gc.freeze): what exists once the
  worker has started (modules, the app, its pools), then every FREEZE_SECONDS what is alive by
  then (connections, channels). Every UNFREEZE_SECONDS it is all handed back and collected
  once (gc.unfreeze, gc.collect: one full pause every ten minutes instead of every few
  seconds), which frees the cycles that died meanwhile (closed sockets): memory never holds
  garbage longer than that.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc

GEN0_THRESHOLD = 20_000
FREEZE_SECONDS = 60.0
UNFREEZE_SECONDS = 600.0


class Collector:
    def __init__(self, freeze_seconds: float = FREEZE_SECONDS, unfreeze_seconds: float = UNFREEZE_SECONDS):
        self.freeze_seconds = freeze_seconds
        self.unfreeze_seconds = unfreeze_seconds
        self._task: asyncio.Task | None = None
        self._before: tuple[int, int, int] | None = None

    def start(self) -> None:
        """At the end of a worker's start-up."""
        self._before = gc.get_threshold()
        _, older, oldest = self._before
        gc.set_threshold(GEN0_THRESHOLD, older, oldest)
        gc.freeze()
        gc.enable()  # `localbase start` runs its start-up without it (localbase/__main__.py)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="localbase-collector")

    async def _run(self) -> None:
        since_unfreeze = 0.0
        while True:
            await asyncio.sleep(self.freeze_seconds)
            since_unfreeze += self.freeze_seconds
            if since_unfreeze >= self.unfreeze_seconds:
                since_unfreeze = 0.0
                gc.unfreeze()
                gc.collect()  # the cycles that died while frozen (closed connections)
            else:
                gc.freeze()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        gc.unfreeze()
        if self._before is not None:
            gc.set_threshold(*self._before)

