"""Threads sending requests in the background of a fault test, stopped on leaving the block."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Self


class Background:
    def __init__(self, targets: list[Callable[[], None]], join_timeout: float = 30.0):
        self.stop = threading.Event()
        self.join_timeout = join_timeout
        self.threads = [threading.Thread(target=target, daemon=True) for target in targets]

    def __enter__(self) -> Self:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(self.join_timeout)
