"""Studio's sessions and login limit (unit)."""

from __future__ import annotations

from localbase.studio.guard import _same_origin
from localbase.studio.sessions import LoginLimiter, Sessions


def test_sessions_expire_and_are_dropped():
    sessions = Sessions(seconds=-1)
    s = sessions.new(authenticated=True)
    assert sessions.get(s.id) is None  # already expired
    sessions = Sessions()
    s = sessions.new(authenticated=False)
    assert sessions.get(s.id) is s and s.csrf_ok(s.csrf) and not s.csrf_ok("x") and not s.csrf_ok(None)
    sessions.drop(s.id)
    assert sessions.get(s.id) is None and sessions.get(None) is None


def test_five_failures_per_client_then_a_wait():
    limiter = LoginLimiter(failures=5, window=300, global_failures=50)
    for i in range(5):
        assert limiter.wait("1.2.3.4", now=100 + i) == 0
        limiter.failed("1.2.3.4", now=100 + i)
    assert limiter.wait("1.2.3.4", now=110) == 290
    assert limiter.wait("5.6.7.8", now=110) == 0  # another client
    assert limiter.wait("1.2.3.4", now=401) == 0  # the window moved on
    limiter.succeeded("5.6.7.8")


def test_many_clients_together_are_limited_too():
    limiter = LoginLimiter(failures=5, window=60, global_failures=10)
    for i in range(10):
        limiter.failed(f"10.0.0.{i}", now=1)
    assert limiter.wait("10.0.0.99", now=2) == 59


def test_same_origin_by_origin_or_referer():
    assert _same_origin({"origin": "http://127.0.0.1:54323"}, "127.0.0.1:54323", False)
    assert not _same_origin({"origin": "http://evil.example"}, "127.0.0.1:54323", False)
    assert not _same_origin({"origin": "null"}, "127.0.0.1:54323", False)
    assert _same_origin({"referer": "http://127.0.0.1:54323/sql"}, "127.0.0.1:54323", False)
    assert not _same_origin({"referer": "http://127.0.0.1:54323.evil.example/"}, "127.0.0.1:54323", False)
    assert not _same_origin({}, "127.0.0.1:54323", False)
    assert not _same_origin({"origin": "http://127.0.0.1:54323"}, "127.0.0.1:54323", True)  # https expected
