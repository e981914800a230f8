"""The guard in front of Studio's pages (unit, on a two-route app): cookie flags over TLS, CSRF and
origin on mutations, the Host check, login required when a password is set."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from localbase.studio.config import StudioSettings
from localbase.studio.guard import Guard, session_of
from localbase.studio.sessions import Sessions


def client_for(guard: Guard, base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url=base_url)


def app(studio: StudioSettings) -> tuple[Guard, Sessions]:
    async def page(request):
        return PlainTextResponse(session_of(request).csrf)

    async def change(request):
        return PlainTextResponse("changed " + (await request.body()).decode())

    sessions = Sessions()
    inner = Starlette(routes=[Route("/", page), Route("/change", change, methods=["POST"]), Route("/login", page)])
    return Guard(inner, studio=studio, sessions=sessions), sessions


async def test_over_tls_the_cookie_is_secure_and_mutations_need_the_token():
    guard, _ = app(StudioSettings(port=443))
    client = client_for(guard, "https://127.0.0.1")
    r = await client.get("/")
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
    token = r.text
    origin = {"origin": "https://127.0.0.1"}
    assert (await client.post("/change", content=b"a=1", headers=origin)).status_code == 403
    assert (await client.post("/change", data={"csrf_token": "wrong"}, headers=origin)).status_code == 403
    r = await client.post("/change", data={"csrf_token": token, "a": "1"}, headers=origin)
    assert r.status_code == 200 and r.text == f"changed csrf_token={token}&a=1"  # the body reaches the page whole
    r = await client.post("/change", content=b"x", headers={"x-csrf-token": token, "origin": "http://127.0.0.1"})
    assert r.status_code == 403  # http is another origin than https
    r = await client.post("/change", content=b"x", headers={"x-csrf-token": token})
    assert r.status_code == 403  # no origin at all


async def test_hosts_answered():
    guard, _ = app(StudioSettings(host="192.168.1.5", allowed_hosts=("studio.lan",), password_hash="$2b$x"))
    for host, status in (("192.168.1.5:54323", 303), ("studio.lan", 303), ("localhost", 303), ("[::1]:54323", 303),
                         ("evil.example", 421), ("192.168.1.5.evil.example", 421)):
        r = await client_for(guard, f"http://{host}").get("/")
        assert r.status_code == status, host


async def test_with_a_password_pages_wait_for_the_login():
    guard, sessions = app(StudioSettings(password_hash="$2b$x"))
    client = client_for(guard, "http://127.0.0.1")
    r = await client.get("/?a=1")
    assert (r.status_code, r.headers["location"]) == (303, "/login?next=%2F%3Fa%3D1")
    token = (await client.get("/login")).text  # the login form gets a session (for its CSRF token) ...
    r = await client.post("/change", headers={"x-csrf-token": token, "origin": "http://127.0.0.1"})
    assert r.status_code == 401  # ... which is no login
    [session] = sessions.by_id.values()
    session.authenticated = True
    assert (await client.get("/")).status_code == 200
