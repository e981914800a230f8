"""CORS, one stage for every service (gateway/stack.py): preflights answered for REST, Auth,
Storage and Functions alike, the headers Supabase's browser clients read exposed on answers and
refusals (a browser can read a 401 from the key check or a PostgREST error only with them), and
every service loaded or the server does not start. Checked on the wire: CORS is what a browser
reads from the HTTP headers, which the clients do not surface."""

from __future__ import annotations

import subprocess
import sys
import types

import httpx
import pytest

from localbase.gateway import app as gateway_app

ORIGIN = "https://app.example.com"


@pytest.mark.parametrize("path", ["/rest/v1/notes", "/auth/v1/token", "/storage/v1/object/b/a.txt",
                                  "/functions/v1/hello-ts"])
def test_preflight_is_answered_for_every_service(localbase_server, path):
    r = httpx.options(localbase_server.url + path, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, apikey, content-type, x-client-info"})
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] in ("*", ORIGIN)
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "apikey" in r.headers["access-control-allow-headers"].lower()


def _exposed(r: httpx.Response) -> set[str]:
    return {h.strip().lower() for h in r.headers.get("access-control-expose-headers", "").split(",")}


def test_answers_and_errors_of_rest_and_auth_carry_cors_headers(localbase_server):
    key = {"apikey": localbase_server.anon_key, "Origin": ORIGIN}
    answers = [httpx.get(f"{localbase_server.url}/rest/v1/notes?select=id", headers={**key, "Prefer": "count=exact"}),
               httpx.get(f"{localbase_server.url}/rest/v1/no_such_table", headers=key),
               httpx.get(f"{localbase_server.url}/auth/v1/settings", headers=key)]
    assert [r.status_code for r in answers] == [200, 404, 200]
    for r in answers:
        assert r.headers["access-control-allow-origin"] == "*"
        assert {"content-range", "x-supabase-api-version"} <= _exposed(r)
    assert answers[1].json()["code"] == "PGRST205"  # PostgREST's shape, with the headers added


@pytest.mark.parametrize("path", ["/rest/v1/notes", "/auth/v1/user"])
def test_a_request_refused_by_the_key_check_is_readable_by_a_browser(localbase_server, path):
    r = httpx.get(localbase_server.url + path, headers={"Origin": ORIGIN})
    assert r.status_code == 401 and r.json()["message"] == "No API key found in request"
    assert r.headers["access-control-allow-origin"] == "*"


def test_no_origin_no_cors_headers(localbase_server):
    r = httpx.get(f"{localbase_server.url}/rest/v1/notes?select=id", headers={"apikey": localbase_server.anon_key})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def test_a_service_that_cannot_be_loaded_stops_the_server():
    """The gateway imports its services by name: one that cannot be imported stops the server."""
    assert all(isinstance(m, types.ModuleType) and hasattr(m, "routes") and hasattr(m, "PUBLIC_PATHS")
               for m in gateway_app.SERVICES.values())
    blocked = subprocess.run([sys.executable, "-c", "import sys; sys.modules['localbase.storage.routes'] = None; "
                              "import localbase.gateway.app"], capture_output=True, text=True, timeout=120)
    assert blocked.returncode != 0 and "localbase.storage.routes" in blocked.stderr
