"""Fixed-window request counters per (bucket, key), in process memory.

Keys are client IPs or lower-cased email addresses. Several API workers each count on their own
(the limit is then per worker), which is fine for a development server."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from localbase.auth import errors


@dataclass
class RateLimiter:
    _windows: dict[tuple[str, str], tuple[float, int]] = field(default_factory=dict)
    _last_sweep: float = field(default_factory=time.monotonic)

    def hit(self, bucket: str, key: str | None, limit: int, window_s: int,
            code: str = "over_request_rate_limit", msg: str = "Request rate limit reached") -> None:
        """Count one request; raise 429 when `key` went over `limit` in the current window.
        A limit of 0 or less disables the check."""
        if limit <= 0 or not key:
            return
        now = time.monotonic()
        self._sweep(now)
        start, count = self._windows.get((bucket, key), (now, 0))
        if now - start >= window_s:
            start, count = now, 0
        count += 1
        self._windows[(bucket, key)] = (start, count)
        if count > limit:
            raise errors.rate_limited(code, msg, retry_after=max(1, int(start + window_s - now)))

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < 60:
            return
        self._last_sweep = now
        # drop windows older than an hour (the longest window used)
        for key in [k for k, (start, _) in self._windows.items() if now - start > 3600]:
            del self._windows[key]
