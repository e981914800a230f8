"""GET /metrics: Prometheus' text format (version 0.0.4), from counters kept in plain ints.

What is counted per request is one histogram observation: a dict and a list lookup, a bisect
and three additions, on the event loop's thread (no lock: asyncio runs one handler at a time).
Gauges (pools, realtime, memory) are read when scraped, not maintained.

The endpoint needs the service_role key (as `apikey` or `Authorization: Bearer`), unless
[localbase] metrics_public = true (or LOCALBASE_METRICS_PUBLIC=true), e.g. behind a proxy that
keeps /metrics off the internet.
"""

from __future__ import annotations

import hmac
import os
import time
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

import localbase
from localbase.process import workers

SERVICES = ("rest", "auth", "realtime", "functions", "storage", "other")
# Upper bounds (seconds) of the latency buckets; +Inf is implied.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_PREFIXES = (("/rest/v1", "rest"), ("/auth/v1", "auth"), ("/realtime/v1", "realtime"),
             ("/functions/v1", "functions"), ("/storage/v1", "storage"))


def service_of(path: str) -> str:
    for prefix, service in _PREFIXES:
        if path.startswith(prefix):
            return service
    return "other"


class Series:
    """One histogram series: per-bucket counts (not cumulative), total count and sum."""

    __slots__ = ("buckets", "count", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * (len(BUCKETS) + 1)
        self.count = 0
        self.sum = 0.0


class RequestMetrics:
    """Requests by service and status class (1xx..5xx), with their latency histogram."""

    def __init__(self) -> None:
        # index by status // 100; 0 collects anything odd (a status < 100 or >= 600)
        self.series: dict[str, list[Series]] = {s: [Series() for _ in range(6)] for s in SERVICES}
        self.websockets: dict[str, int] = {s: 0 for s in SERVICES}
        self.started = time.time()

    def observe(self, service: str, status: int, seconds: float) -> None:
        cls = status // 100
        series = self.series[service][cls if 0 < cls < 6 else 0]
        series.buckets[bisect_left(BUCKETS, seconds)] += 1
        series.count += 1
        series.sum += seconds


# -- gauges, read at scrape time --------------------------------------------------------------
def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _pool_gauges(db: Any) -> list[tuple[str, int, int, int]]:
    """(pool, size, in use, max) of the database's pools that are open."""
    found = []
    for name in ("rest", "auth"):
        pool = getattr(db, f"{name}_pool", None)
        if pool is None:
            continue
        size, idle, most = pool.get_size(), pool.get_idle_size(), pool.get_max_size()
        found.append((name, size, size - idle, most))
    return found


def _gate_waiting(db: Any) -> int | None:
    gate = getattr(db, "rest_gate", None)
    waiters = getattr(gate, "_waiters", None)
    return len(waiters) if waiters is not None else None


def _realtime_gauges(state: Any) -> tuple[int, int] | None:
    service = getattr(state, "realtime", None)
    if service is None:
        return None
    connections = list(service.connections)
    return len(connections), sum(len(c.channels) for c in connections)


# -- rendering ----------------------------------------------------------------------------------
def _fmt(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return repr(float(value)) if value != int(value) else f"{value:.1f}"


class _Writer:
    """Families in the order declared, each with its samples: rendered as text by `text()`, or
    kept as data (`families`) for another worker to render (gateway.worker_metrics)."""

    def __init__(self) -> None:
        self.families: dict[str, dict[str, Any]] = {}
        self._current: dict[str, Any] | None = None

    def family(self, name: str, kind: str, help_text: str) -> None:
        self._current = self.families.setdefault(name, {"kind": kind, "help": help_text, "samples": []})

    def sample(self, name: str, value: float, **labels: str) -> None:
        self._current["samples"].append((name, labels, value))  # type: ignore[index]

    def text(self) -> str:
        return render_families(self.families)


def render_families(families: dict[str, dict[str, Any]]) -> str:
    lines: list[str] = []
    for name, family in families.items():
        lines.append(f"# HELP {name} {family['help']}")
        lines.append(f"# TYPE {name} {family['kind']}")
        for sample, labels, value in family["samples"]:
            if labels:
                inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
                lines.append(f"{sample}{{{inner}}} {_fmt(value)}")
            else:
                lines.append(f"{sample} {_fmt(value)}")
    return "\n".join(lines) + "\n"


# Extra families other parts register (the backup scheduler, the database's supervisor, ...):
# each is called at scrape time with the writer and the app's state.
Collector = Callable[[_Writer, Any], None]
_collectors: list[Collector] = []


def add_collector(collector: Collector) -> None:
    if collector not in _collectors:
        _collectors.append(collector)


def render(metrics: RequestMetrics, state: Any) -> str:
    return collect(metrics, state).text()


def collect(metrics: RequestMetrics, state: Any) -> _Writer:
    w = _Writer()
    w.family("localbase_info", "gauge", "Localbase's version.")
    w.sample("localbase_info", 1, version=localbase.__version__)
    w.family("localbase_start_time_seconds", "gauge", "When the server started (Unix time).")
    w.sample("localbase_start_time_seconds", round(metrics.started, 3))
    w.family("localbase_uptime_seconds", "gauge", "Seconds since the server started.")
    w.sample("localbase_uptime_seconds", round(time.time() - metrics.started, 3))

    w.family("localbase_http_requests_total", "counter", "HTTP requests answered, by service and status class.")
    live = [(svc, cls, s) for svc, per in metrics.series.items() for cls, s in enumerate(per) if s.count]
    for svc, cls, s in live:
        w.sample("localbase_http_requests_total", s.count, service=svc, status=_status(cls))
    w.family("localbase_http_request_duration_seconds", "histogram",
             "Time from a request's arrival to its response sent, by service and status class.")
    for svc, cls, s in live:
        status = _status(cls)
        running = 0
        for bound, n in zip(BUCKETS, s.buckets, strict=False):
            running += n
            w.sample("localbase_http_request_duration_seconds_bucket", running, service=svc, status=status,
                     le=_fmt(bound))
        w.sample("localbase_http_request_duration_seconds_bucket", s.count, service=svc, status=status, le="+Inf")
        w.sample("localbase_http_request_duration_seconds_sum", round(s.sum, 6), service=svc, status=status)
        w.sample("localbase_http_request_duration_seconds_count", s.count, service=svc, status=status)
    w.family("localbase_websocket_sessions_total", "counter", "WebSocket sessions opened, by service.")
    for svc, n in metrics.websockets.items():
        if n:
            w.sample("localbase_websocket_sessions_total", n, service=svc)

    db = getattr(state, "db", None)
    pools = _pool_gauges(db)
    w.family("localbase_db_pool_connections", "gauge", "Open connections of a pool, by state.")
    for name, size, in_use, _ in pools:
        w.sample("localbase_db_pool_connections", in_use, pool=name, state="in_use")
        w.sample("localbase_db_pool_connections", size - in_use, pool=name, state="idle")
    w.family("localbase_db_pool_max_connections", "gauge", "The most connections a pool opens.")
    for name, _, _, most in pools:
        w.sample("localbase_db_pool_max_connections", most, pool=name)
    waiting = _gate_waiting(db)
    if waiting is not None:
        w.family("localbase_db_pool_waiting_requests", "gauge", "REST requests waiting for a connection.")
        w.sample("localbase_db_pool_waiting_requests", waiting, pool="rest")

    rt = _realtime_gauges(state)
    if rt is not None:
        w.family("localbase_realtime_connections", "gauge", "Open Realtime WebSocket connections.")
        w.sample("localbase_realtime_connections", rt[0])
        w.family("localbase_realtime_channels", "gauge", "Joined Realtime channels.")
        w.sample("localbase_realtime_channels", rt[1])

    w.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.")
    w.sample("process_resident_memory_bytes", rss_bytes())
    for collector in _collectors:
        collector(w, state)
    return w


def _status(cls: int) -> str:
    return f"{cls}xx" if cls else "other"


# -- the endpoint ---------------------------------------------------------------------------------
def _presented_keys(request: Request) -> list[bytes]:
    keys = []
    apikey = request.headers.get("apikey")
    if apikey:
        keys.append(apikey.encode())
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        keys.append(auth[7:].strip().encode())
    return keys


def allowed(request: Request) -> bool:
    settings = request.app.state.settings
    if settings.metrics_public:
        return True
    service = settings.service_role_key.encode()
    return any(hmac.compare_digest(service, key) for key in _presented_keys(request))


async def endpoint(request: Request) -> Response:
    if not allowed(request):
        return JSONResponse({"message": "the service_role key is required for /metrics",
                             "hint": "Send it as `apikey` or `Authorization: Bearer`, or set "
                                     "[localbase] metrics_public = true behind a private proxy."},
                            status_code=401)
    if workers.current().several:
        from localbase.gateway import worker_metrics
        return Response(worker_metrics.render_all(request.app), media_type=CONTENT_TYPE)
    return Response(render(request.app.state.metrics, request.app.state), media_type=CONTENT_TYPE)
