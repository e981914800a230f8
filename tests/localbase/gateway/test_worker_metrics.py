"""/metrics of several workers, merged from their snapshots (gateway.worker_metrics): valid text
format, every family once, every sample labelled with its worker. End to end, with a real
two-worker server: tests/localbase/realtime/test_bus.py reads the per-worker Realtime gauges."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace

import orjson

from localbase.gateway import metrics, worker_metrics
from localbase.process import workers


def _app(tmp_path, observed: list[tuple[str, int]]):
    m = metrics.RequestMetrics()
    for service, status in observed:
        m.observe(service, status, 0.003)
    return SimpleNamespace(state=SimpleNamespace(metrics=m, settings=SimpleNamespace(data_dir=tmp_path), db=None))


def test_two_workers_render_as_one_scrape(tmp_path, as_worker):
    as_worker(1, 2)
    worker_metrics.write(_app(tmp_path, [("rest", 200)] * 3))
    as_worker(0, 2)
    text = worker_metrics.render_all(_app(tmp_path, [("rest", 200)] * 5 + [("auth", 429)]))

    types = re.findall(r"^# TYPE (\S+) ", text, re.MULTILINE)
    assert len(types) == len(set(types))  # each family declared once
    assert 'localbase_workers 2' in text
    assert 'localbase_http_requests_total{worker="0",service="rest",status="2xx"} 5' in text
    assert 'localbase_http_requests_total{worker="1",service="rest",status="2xx"} 3' in text
    assert 'localbase_http_requests_total{worker="0",service="auth",status="4xx"} 1' in text
    # a family's samples follow its TYPE line, the workers' together
    block = text.split("# TYPE localbase_http_requests_total counter\n", 1)[1].split("# HELP", 1)[0]
    assert block.count('worker="0"') == 2 and block.count('worker="1"') == 1
    for line in text.splitlines():  # every sample line parses as name{labels} value
        assert line.startswith("#") or re.fullmatch(r'[a-z_]+(\{[^}]*\})? \S+', line), line


def test_a_silent_or_surplus_worker_is_left_out(tmp_path, as_worker):
    as_worker(1, 3)
    worker_metrics.write(_app(tmp_path, [("rest", 200)]))
    path = tmp_path / "metrics" / "worker-1.json"
    snap = orjson.loads(path.read_bytes())
    snap["written_at"] = time.time() - worker_metrics.STALE_SECONDS - 1  # it stopped writing
    path.write_bytes(orjson.dumps(snap))
    (tmp_path / "metrics" / "worker-7.json").write_bytes(orjson.dumps({**snap, "index": 7, "written_at": time.time()}))
    as_worker(0, 3)
    text = worker_metrics.render_all(_app(tmp_path, []))
    assert 'worker="1"' not in text and 'worker="7"' not in text and 'worker="0"' in text
    assert "localbase_workers 3" in text


def test_one_process_output_has_no_worker_label(tmp_path):
    workers.current.cache_clear()
    app = _app(tmp_path, [("rest", 200)])
    text = metrics.render(app.state.metrics, app.state)
    assert "worker=" not in text and "localbase_workers" not in text
    assert 'localbase_http_requests_total{service="rest",status="2xx"} 1' in text
